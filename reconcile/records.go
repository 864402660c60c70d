package reconcile

import (
	"net/netip"
	"strconv"

	"github.com/weavego/weavego/driver"
	"github.com/weavego/weavego/internal/record"
)

// Kinds of the entries the agent keeps in the replicated state.
const (
	// KindNetwork: key = network name; value = NetDef. Written by the host
	// where the user created (or removed) the network; any host may write it.
	KindNetwork = "net"
	// KindEncNetwork: as KindNetwork, for an encrypted network (its
	// Options say encrypted). A kind of its own because releases before
	// encryption would build a "net" record's network in clear; they
	// reject kinds they do not know (netdefs.go).
	KindEncNetwork = "encnet"
	// KindEndpoint: key = Docker endpoint ID; value = EndpointRec; owner = its host.
	KindEndpoint = "ep"
	// KindHostNet: key = "<vni>/<host>"; value = HostNetRec; a host has the network.
	KindHostNet = "hostnet"
	// KindName: key = "<container ID>/<vni>"; value = NameRec; owner = its host.
	KindName = "name"
)

// NetDef is the cluster-wide definition of a network.
type NetDef struct {
	Name     string
	Subnet   netip.Prefix
	Gateway  netip.Addr
	IPRange  netip.Prefix `json:",omitempty"`
	VNI      uint32
	MTU      int               `json:",omitempty"`
	Internal bool              `json:",omitempty"`
	Options  map[string]string `json:",omitempty"`
	Origin   string            // host where it was created
	// Subnet6, Gateway6 and IPRange6 are the IPv6 pool of a --ipv6
	// network. Hosts of releases before IPv6 ignore them (their decoder
	// accepts unknown fields) and create the network IPv4-only.
	Subnet6  netip.Prefix `json:",omitzero"`
	Gateway6 netip.Addr   `json:",omitzero"`
	IPRange6 netip.Prefix `json:",omitzero"`
}

// same tells whether a local network, identified by its key subnet (see
// key), matches the definition, encryption included.
func (d NetDef) same(key netip.Prefix, vni uint32, encrypted bool) bool {
	return d.key() == key && d.VNI == vni && driver.Encrypted(d.Options) == encrypted
}

// key is the subnet that identifies the network: its IPv4 one, or its IPv6
// one on an IPv6-only network (driver.Network.Key).
func (d NetDef) key() netip.Prefix {
	if d.Subnet.IsValid() {
		return d.Subnet
	}
	return d.Subnet6
}

// EndpointRec is a container's interface on a network, as other hosts need it.
type EndpointRec struct {
	VNI  uint32
	IP   netip.Addr
	MAC  string
	VTEP netip.Addr
	// IP6 is the endpoint's IPv6 address on a --ipv6 network. Hosts of
	// releases before IPv6 ignore it: they program the IPv4 neighbour and
	// the FDB entry of the MAC, which IPv6 shares.
	IP6 netip.Addr `json:",omitzero"`
}

// HostNetRec says that a host has a network, and where its VXLAN ends. It
// is the host's own record: its key names the host, and only that host may
// write it (validateHostNet); its VTEP must be its writer's address
// (checkWriter).
//
// WGKey and WGPort, optional, are the host's WireGuard public key (base64 of
// 32 bytes) and UDP port, which encrypted networks need: a host that cannot
// encrypt leaves them out. Releases before encryption ignore both fields
// (their decoder skips fields it does not know) and admit the record as
// before.
//
// DirectMAC, optional, is the MAC of the host's macvlan for a direct network
// (-o direct), where the other hosts of its underlay segment send that
// network's IPv4 unicast instead of VXLAN. Releases before the direct path
// ignore it and keep VXLAN (TestHostNetRecPreviousRelease).
type HostNetRec struct {
	VNI       uint32
	VTEP      netip.Addr
	WGKey     string `json:",omitempty"`
	WGPort    int    `json:",omitempty"`
	DirectMAC string `json:",omitempty"`
}

// NameRec is a container's names on one network, for DNS.
type NameRec struct {
	Names   []string
	IP      netip.Addr
	VNI     uint32
	Network string
	// IP6 is the container's IPv6 address on a --ipv6 network, for AAAA
	// records; hosts of releases before IPv6 ignore it.
	IP6 netip.Addr `json:",omitzero"`
}

// hostNetKey is the key of a host's record of a network: <vni>/<host>.
func hostNetKey(vni uint32, host string) string {
	return record.Join(record.SepPlain, strconv.FormatUint(uint64(vni), 10), host)
}

// nameKey is the key of a container's names on a network: <container>/<vni>.
func nameKey(cid string, vni uint32) string {
	return record.Join(record.SepPlain, cid, strconv.FormatUint(uint64(vni), 10))
}
