package pluginapi

import "github.com/docker/go-plugins-helpers/network"

// NetworkDriver is the network driver the handler serves: go-plugins-helpers'
// network.Driver, but with a Join whose reply can name the container's
// interface (JoinResponse).
type NetworkDriver interface {
	GetCapabilities() (*network.CapabilitiesResponse, error)
	CreateNetwork(*network.CreateNetworkRequest) error
	AllocateNetwork(*network.AllocateNetworkRequest) (*network.AllocateNetworkResponse, error)
	DeleteNetwork(*network.DeleteNetworkRequest) error
	FreeNetwork(*network.FreeNetworkRequest) error
	CreateEndpoint(*network.CreateEndpointRequest) (*network.CreateEndpointResponse, error)
	DeleteEndpoint(*network.DeleteEndpointRequest) error
	EndpointInfo(*network.InfoRequest) (*network.InfoResponse, error)
	Join(*network.JoinRequest) (*JoinResponse, error)
	Leave(*network.LeaveRequest) error
	DiscoverNew(*network.DiscoveryNotification) error
	DiscoverDelete(*network.DiscoveryNotification) error
	ProgramExternalConnectivity(*network.ProgramExternalConnectivityRequest) error
	RevokeExternalConnectivity(*network.RevokeExternalConnectivityRequest) error
}

// JoinResponse is the reply to Join as Docker reads it. It is
// network.JoinResponse with InterfaceName.DstName, which go-plugins-helpers
// lacks: its InterfaceName field hides the embedded one in the JSON.
type JoinResponse struct {
	network.JoinResponse
	InterfaceName InterfaceName
}

// InterfaceName names the veth that Docker moves into the container: SrcName
// on the host, and inside the container DstName where the engine honours it
// (Docker 29.8 and later; com.docker.network.endpoint.ifname asks for one),
// else DstPrefix with the next free number (eth0, eth1...). Older engines
// ignore DstName.
type InterfaceName struct {
	SrcName   string
	DstName   string `json:",omitempty"`
	DstPrefix string
}
