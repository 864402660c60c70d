package pluginapi

import (
	"errors"
	"net/http"

	"github.com/docker/go-plugins-helpers/ipam"
	"github.com/docker/go-plugins-helpers/network"

	"github.com/weavego/weavego/ipamdriver"
)

// NewRefusingHandler returns the handler of a plugin that a setting keeps
// from starting: it answers every request that would create something
// (a pool, an address, a network, an endpoint, a join) with reason, so that
// the user reads it where they typed the command, and lets every teardown
// request succeed, so that Docker's cleanup of what an earlier run created
// never jams on it. Capability and address-space queries answer as the
// running plugin does, for Docker to get as far as the refusal. passed, if
// not nil, is told of every teardown request let pass (its method, such as
// "NetworkDriver.DeleteNetwork", and the decoded request), so that the
// plugin can apply it once it runs.
func NewRefusingHandler(cfg Config, reason string, passed func(method string, req any)) http.Handler {
	reg := newRegistration(0, 0)
	reg.open()
	err := errors.New(reason)
	if passed == nil {
		passed = func(string, any) {}
	}
	return newHandler(cfg, refuser{err: err, passed: passed}, ipamRefuser{err: err, passed: passed}, reg)
}

// refuser is a network driver that creates nothing.
type refuser struct {
	err    error
	passed func(method string, req any)
}

// ipamRefuser is an IPAM driver that allocates nothing.
type ipamRefuser struct {
	err    error
	passed func(method string, req any)
}

var (
	_ NetworkDriver = refuser{}
	_ ipam.Ipam     = ipamRefuser{}
)

func (r refuser) GetCapabilities() (*network.CapabilitiesResponse, error) {
	return &network.CapabilitiesResponse{Scope: network.LocalScope}, nil
}
func (r refuser) CreateNetwork(*network.CreateNetworkRequest) error { return r.err }
func (r refuser) AllocateNetwork(*network.AllocateNetworkRequest) (*network.AllocateNetworkResponse, error) {
	return nil, r.err
}
func (r refuser) DeleteNetwork(req *network.DeleteNetworkRequest) error {
	r.passed("NetworkDriver.DeleteNetwork", req)
	return nil
}
func (r refuser) FreeNetwork(*network.FreeNetworkRequest) error { return nil }
func (r refuser) CreateEndpoint(*network.CreateEndpointRequest) (*network.CreateEndpointResponse, error) {
	return nil, r.err
}
func (r refuser) DeleteEndpoint(req *network.DeleteEndpointRequest) error {
	r.passed("NetworkDriver.DeleteEndpoint", req)
	return nil
}
func (r refuser) EndpointInfo(*network.InfoRequest) (*network.InfoResponse, error) {
	return &network.InfoResponse{}, nil
}
func (r refuser) Join(*network.JoinRequest) (*JoinResponse, error) { return nil, r.err }
func (r refuser) Leave(req *network.LeaveRequest) error {
	r.passed("NetworkDriver.Leave", req)
	return nil
}
func (r refuser) DiscoverNew(*network.DiscoveryNotification) error    { return nil }
func (r refuser) DiscoverDelete(*network.DiscoveryNotification) error { return nil }
func (r refuser) ProgramExternalConnectivity(*network.ProgramExternalConnectivityRequest) error {
	return r.err
}
func (r refuser) RevokeExternalConnectivity(req *network.RevokeExternalConnectivityRequest) error {
	r.passed("NetworkDriver.RevokeExternalConnectivity", req)
	return nil
}

func (r ipamRefuser) GetCapabilities() (*ipam.CapabilitiesResponse, error) {
	return &ipam.CapabilitiesResponse{}, nil
}
func (r ipamRefuser) GetDefaultAddressSpaces() (*ipam.AddressSpacesResponse, error) {
	return &ipam.AddressSpacesResponse{LocalDefaultAddressSpace: ipamdriver.LocalAddressSpace,
		GlobalDefaultAddressSpace: ipamdriver.GlobalAddressSpace}, nil
}
func (r ipamRefuser) RequestPool(*ipam.RequestPoolRequest) (*ipam.RequestPoolResponse, error) {
	return nil, r.err
}
func (r ipamRefuser) ReleasePool(req *ipam.ReleasePoolRequest) error {
	r.passed("IpamDriver.ReleasePool", req)
	return nil
}
func (r ipamRefuser) RequestAddress(*ipam.RequestAddressRequest) (*ipam.RequestAddressResponse, error) {
	return nil, r.err
}
func (r ipamRefuser) ReleaseAddress(req *ipam.ReleaseAddressRequest) error {
	r.passed("IpamDriver.ReleaseAddress", req)
	return nil
}
