package driver

import (
	"errors"
	"net/netip"

	"github.com/weavego/weavego/datapath"
)

// Network is the driver's record of one local network.
type Network struct {
	ID       string
	Subnet   netip.Prefix
	Gateway  netip.Addr
	VNI      uint32
	MTU      int // as asked (0 = automatic)
	Internal bool
	Options  map[string]string // the generic options given to `docker network create -o`
	// Subnet6 and Gateway6 are the IPv6 pool of a --ipv6 network (zero
	// values: IPv4 only).
	Subnet6  netip.Prefix `json:",omitzero"`
	Gateway6 netip.Addr   `json:",omitzero"`
}

// IPv6Only tells whether n has no IPv4 (--ipv6 --ipv4=false).
func (n *Network) IPv6Only() bool { return !n.Subnet.IsValid() && n.Subnet6.IsValid() }

// Key is the subnet that identifies n among the host's and the cluster's
// networks: its IPv4 subnet, or its IPv6 one on an IPv6-only network.
func (n *Network) Key() netip.Prefix {
	if n.Subnet.IsValid() {
		return n.Subnet
	}
	return n.Subnet6
}

// Endpoint is the driver's record of one local endpoint.
type Endpoint struct {
	ID          string
	NetworkID   string
	Addr        netip.Prefix // invalid on an IPv6-only network
	Addr6       netip.Prefix `json:",omitzero"` // on a --ipv6 network
	MAC         string
	HostIf      string
	ContainerIf string
	// IfName is the name asked for the interface in the container
	// (OptIfname), "" for Docker's eth<N>.
	IfName     string `json:",omitempty"`
	Joined     bool
	SandboxKey string
	// ServiceRoute: the Join gave the container its route to DNS_ADDR.
	ServiceRoute bool `json:",omitempty"`
	// ServiceRoute6: the Join gave the container its route to DNS_ADDR6.
	ServiceRoute6 bool `json:",omitempty"`
}

func (d *Driver) kernelNetwork(n *Network) datapath.Network {
	kn := datapath.Network{
		ID:       n.ID,
		VNI:      n.VNI,
		Subnet:   n.Subnet,
		MTU:      n.MTU,
		Port:     d.cfg.VXLANPort,
		Internal: n.Internal,
	}
	kn.ServiceAddr, kn.ServiceAddr6 = d.cfg.DNSAddr, d.cfg.DNSAddr6
	kn.Gateway = n.Gateway
	kn.Subnet6, kn.Gateway6 = n.Subnet6, n.Gateway6
	if n.VNI != 0 {
		kn.VTEP = d.cfg.VTEP
	}
	kn.Direct = Direct(n.Options) && n.VNI != 0
	if Encrypted(n.Options) {
		// Its VXLAN goes to its own port, which routing sends only into
		// the tunnel (package tunnel): never to the underlay in clear.
		kn.Port, kn.TunnelOverhead = d.cfg.EncryptedVXLANPort, d.cfg.TunnelOverhead
	}
	return kn
}

// ShortID is how weavego shows a Docker ID in logs, errors and status: its
// first 12 characters, as the docker command does.
func ShortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func joinErrs(errs []error) error { return errors.Join(errs...) }
