package datapath

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"github.com/weavego/weavego/internal/ipconv"
	"golang.org/x/sys/unix"
)

// DefaultVXLANPort is the IANA VXLAN port, used when Network.Port is 0.
const DefaultVXLANPort = 4789

// Network is the desired kernel state of one weavego network on this host.
type Network struct {
	// ID is Docker's network ID; it names the devices (see BridgeName).
	ID string
	// VNI is the VXLAN network identifier; 0 means no VXLAN device.
	VNI uint32
	// Subnet gives the prefix length of Gateway.
	Subnet netip.Prefix
	// Gateway is put on the bridge; the zero Addr means the bridge has no
	// address.
	Gateway netip.Addr
	// Subnet6 gives the prefix length of Gateway6; the zero Prefix means
	// the network has no IPv6.
	Subnet6 netip.Prefix
	// Gateway6 is put on the bridge as well (without duplicate address
	// detection: the allocator made it unique); the zero Addr means none.
	Gateway6 netip.Addr
	// ServiceAddr is put on the bridge as well, as a /32: the DNS service
	// address that containers of every network reach through a route via
	// their gateway. Every bridge has the same one. The zero Addr means
	// none.
	ServiceAddr netip.Addr
	// ServiceAddr6 is the IPv6 one, put on the bridge as a /128 when the
	// network has an IPv6 gateway (the containers' route goes via it).
	ServiceAddr6 netip.Addr
	// MTU of the bridge, the VXLAN device and new endpoints; 0 means the
	// MTU of the link holding VTEP minus the VXLAN overhead (DefaultMTU
	// when that link is unknown).
	MTU int
	// VTEP is this host's underlay address; the zero Addr means no VXLAN
	// device.
	VTEP netip.Addr
	// Port is the VXLAN UDP port; 0 means DefaultVXLANPort.
	Port int
	// TunnelOverhead is what a tunnel around the VXLAN datagrams adds to
	// them (an encrypted network's WireGuard); an automatic MTU leaves room
	// for it. 0 for a plain network.
	TunnelOverhead int
	// Direct makes the network carry IPv4 unicast to peers on this host's
	// underlay segment without VXLAN, through a macvlan in its namespace
	// (direct.go). Only with VXLAN.
	Direct bool
	// Internal is accepted for the driver's convenience; it changes nothing
	// here: the namespace of a network routes nowhere, so no network gets
	// external access through its bridge.
	Internal bool
}

func (n Network) hasVXLAN() bool { return n.VNI != 0 && n.VTEP.IsValid() }

func (n Network) port() int {
	if n.Port == 0 {
		return DefaultVXLANPort
	}
	return n.Port
}

func (n Network) validate() error {
	switch {
	case n.ID == "":
		return errors.New("network has no ID")
	case n.VNI >= 1<<24:
		return fmt.Errorf("network %s: VNI %d does not fit in 24 bits", n.ID, n.VNI)
	case n.Gateway.IsValid() && !n.Subnet.IsValid():
		return fmt.Errorf("network %s: gateway %s without a subnet", n.ID, n.Gateway)
	case n.Gateway6.IsValid() && (!n.Subnet6.IsValid() || !n.Gateway6.Is6() || !n.Subnet6.Contains(n.Gateway6)):
		return fmt.Errorf("network %s: IPv6 gateway %s is not inside IPv6 subnet %s", n.ID, n.Gateway6, n.Subnet6)
	case n.ServiceAddr.IsValid() && !n.ServiceAddr.Unmap().Is4():
		return fmt.Errorf("network %s: service address %s is not IPv4", n.ID, n.ServiceAddr)
	case n.ServiceAddr.IsValid() && n.Subnet.IsValid() && n.Subnet.Masked().Contains(n.ServiceAddr.Unmap()):
		return fmt.Errorf("network %s: service address %s lies inside subnet %s", n.ID, n.ServiceAddr, n.Subnet)
	case n.ServiceAddr6.IsValid() && (!n.ServiceAddr6.Is6() || n.ServiceAddr6.Is4In6()):
		return fmt.Errorf("network %s: IPv6 service address %s is not IPv6", n.ID, n.ServiceAddr6)
	case n.ServiceAddr6.IsValid() && n.Subnet6.IsValid() && n.Subnet6.Masked().Contains(n.ServiceAddr6):
		return fmt.Errorf("network %s: IPv6 service address %s lies inside IPv6 subnet %s", n.ID, n.ServiceAddr6, n.Subnet6)
	case n.TunnelOverhead < 0 || n.TunnelOverhead > 1000:
		return fmt.Errorf("network %s: tunnel overhead %d out of range", n.ID, n.TunnelOverhead)
	case n.Port < 0 || n.Port > 65535:
		return fmt.Errorf("network %s: VXLAN port %d out of range", n.ID, n.Port)
	}
	return nil
}

// EnsureNetwork makes the namespace of n, its bridge (with the gateway and
// service addresses) and its VXLAN device exist with n's settings,
// repairing or recreating devices that differ; it moves into the namespace
// what an earlier weavego left for n in the host namespace (see migrate.go),
// and refreshes the firewall. It returns the MTU in use. It is idempotent.
func (m *Manager) EnsureNetwork(n Network) (effectiveMTU int, err error) {
	if err := n.validate(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	mtu, err := m.effectiveMTU(n)
	if err != nil {
		return 0, err
	}
	ns, err := m.netOf(n.ID, true)
	if err != nil {
		return 0, err
	}
	br, err := m.ensureBridge(ns.nl, n.ID, mtu)
	if err != nil {
		return 0, err
	}
	if err := ensureBridgeAddrs(ns.nl, br, netlink.FAMILY_V4, bridgeAddrs(n)); err != nil {
		return 0, err
	}
	if err := ensureBridgeAddrs(ns.nl, br, netlink.FAMILY_V6, bridgeAddrs6(n)); err != nil {
		return 0, err
	}
	if err := m.ensureVXLANOf(ns, n, mtu, br); err != nil {
		return 0, err
	}
	if err := m.ensureDirectOf(ns, n, mtu, br); err != nil {
		// VXLAN carries everything without it: no MAC is published, and
		// the peers keep VXLAN for this host.
		m.log.Warn("no direct path for this network here, it uses VXLAN", "network", n.ID, "err", err)
		if err := errors.Join(deleteLink(ns.nl, DirectName(n.ID)), m.refreshRemotes(ns, n.ID)); err != nil {
			return 0, err
		}
	}
	if err := m.adoptHostPorts(ns, n.ID, br); err != nil {
		return 0, err
	}
	if err := m.ensureFirewall(); err != nil {
		return 0, err
	}
	return mtu, nil
}

// ensureVXLANOf ensures or removes n's VXLAN device; after (re)creating it,
// it re-applies the last remotes given for n.
func (m *Manager) ensureVXLANOf(ns *netNS, n Network, mtu int, br netlink.Link) error {
	if !n.hasVXLAN() {
		return errors.Join(deleteLink(ns.nl, VXLANName(n.ID)), deleteLink(m.nl, VXLANName(n.ID)))
	}
	vx, created, err := m.ensureVXLAN(ns, n, mtu, br)
	if err != nil {
		return err
	}
	if st, ok := m.remotes[n.ID]; ok && created {
		return m.reconcileRemotes(ns, n.ID, vx, st)
	}
	return nil
}

// ensureBridge creates or repairs the bridge of network id in its namespace.
func (m *Manager) ensureBridge(nl netlinkOps, id string, mtu int) (netlink.Link, error) {
	name := BridgeName(id)
	l, err := linkByName(nl, name)
	if err != nil {
		return nil, err
	}
	if l != nil && !isBridge(l) {
		m.log.Warn("replacing link that is not a bridge", "network", id, "link", name, "type", l.Type())
		if err := nl.LinkDel(l); err != nil {
			return nil, fmt.Errorf("delete non-bridge link %s: %w", name, err)
		}
		l = nil
	}
	if l == nil {
		// A bridge of id in the host namespace (parked, or an earlier
		// weavego's) lends its MAC: its containers' gateway keeps it.
		var mac net.HardwareAddr
		if h, err := linkByName(m.nl, name); err == nil && h != nil && isBridge(h) {
			mac = h.Attrs().HardwareAddr
		}
		if l, err = createBridge(nl, name, mtu, mac); err != nil {
			return nil, err
		}
	}
	return l, ensureLinkState(nl, l, mtu, id)
}

// createBridge creates a bridge with MAC mac (nil: a random one).
func createBridge(nl netlinkOps, name string, mtu int, mac net.HardwareAddr) (netlink.Link, error) {
	attrs := netlink.NewLinkAttrs()
	attrs.Name = name
	attrs.MTU = mtu
	// An explicit MAC keeps the bridge's address (the containers' gateway
	// MAC) from changing as ports come and go.
	if mac == nil {
		var err error
		if mac, err = randomMAC(); err != nil {
			return nil, err
		}
	}
	attrs.HardwareAddr = mac
	// Without a querier, snooping could prune multicast (IPv6 ND) that must
	// reach the VXLAN port; flood instead.
	off := false
	br := &netlink.Bridge{LinkAttrs: attrs, MulticastSnooping: &off}
	if err := nl.LinkAdd(br); err != nil {
		return nil, fmt.Errorf("create bridge %s: %w", name, err)
	}
	return mustLink(nl, name)
}

// ensureLinkState sets MTU, alias (when not empty) and up on l.
func ensureLinkState(nl netlinkOps, l netlink.Link, mtu int, alias string) error {
	a := l.Attrs()
	if mtu > 0 && a.MTU != mtu {
		if err := nl.LinkSetMTU(l, mtu); err != nil {
			return fmt.Errorf("set MTU %d on %s: %w", mtu, a.Name, err)
		}
	}
	if alias != "" && a.Alias != alias {
		if err := nl.LinkSetAlias(l, alias); err != nil {
			return fmt.Errorf("set alias %s on %s: %w", alias, a.Name, err)
		}
	}
	if a.Flags&net.FlagUp == 0 {
		if err := nl.LinkSetUp(l); err != nil {
			return fmt.Errorf("set %s up: %w", a.Name, err)
		}
	}
	return nil
}

// bridgeAddrs are the IPv4 addresses n's bridge must have: the gateway with
// the subnet's prefix length, and the service address as a /32.
func bridgeAddrs(n Network) []*net.IPNet {
	var want []*net.IPNet
	if n.Gateway.IsValid() {
		want = append(want, ipconv.IPNet(netip.PrefixFrom(n.Gateway.Unmap(), n.Subnet.Bits())))
	}
	if n.ServiceAddr.IsValid() {
		want = append(want, ipconv.IPNet(netip.PrefixFrom(n.ServiceAddr.Unmap(), 32)))
	}
	return want
}

// bridgeAddrs6 are the IPv6 addresses n's bridge must have besides its
// link-local one: the IPv6 gateway with the IPv6 subnet's prefix length,
// and the IPv6 service address as a /128.
func bridgeAddrs6(n Network) []*net.IPNet {
	if !n.Gateway6.IsValid() {
		return nil
	}
	want := []*net.IPNet{ipconv.IPNet(netip.PrefixFrom(n.Gateway6, n.Subnet6.Bits()))}
	if n.ServiceAddr6.IsValid() {
		want = append(want, ipconv.IPNet(netip.PrefixFrom(n.ServiceAddr6, 128)))
	}
	return want
}

// ensureBridgeAddrs leaves exactly want as the bridge's addresses of family
// (netlink.FAMILY_V4 or FAMILY_V6; the kernel's IPv6 link-local address
// stays). IPv6 addresses are added without duplicate address detection.
func ensureBridgeAddrs(nl netlinkOps, br netlink.Link, family int, want []*net.IPNet) error {
	name := br.Attrs().Name
	addrs, err := nl.AddrList(br, family)
	if err != nil {
		return fmt.Errorf("list addresses of %s: %w", name, err)
	}
	flags := 0
	if family == netlink.FAMILY_V6 {
		flags = unix.IFA_F_NODAD
	}
	present := make([]bool, len(want))
	for _, a := range addrs {
		if family == netlink.FAMILY_V6 && a.IP.IsLinkLocalUnicast() {
			continue // the kernel's fe80:: address (IPv4 link-local is the service address's space)
		}
		i := slices.IndexFunc(want, func(w *net.IPNet) bool {
			return a.IP.Equal(w.IP) && a.Mask.String() == w.Mask.String()
		})
		if i >= 0 {
			present[i] = true
			continue
		}
		if err := nl.AddrDel(br, &a); err != nil {
			return fmt.Errorf("remove stale address %s from %s: %w", a.IPNet, name, err)
		}
	}
	for i, w := range want {
		if present[i] {
			continue
		}
		if err := nl.AddrReplace(br, &netlink.Addr{IPNet: w, Flags: flags}); err != nil {
			return fmt.Errorf("add address %s to %s: %w", w, name, err)
		}
	}
	return nil
}

// mustLink looks up a link that was just created.
func mustLink(nl netlinkOps, name string) (netlink.Link, error) {
	l, err := nl.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("look up new link %s: %w", name, err)
	}
	return l, nil
}

// randomMAC returns a random unicast, locally administered MAC address.
func randomMAC() (net.HardwareAddr, error) {
	mac := make(net.HardwareAddr, 6)
	if _, err := rand.Read(mac); err != nil {
		return nil, fmt.Errorf("generate MAC address: %w", err)
	}
	mac[0] = mac[0]&0xfe | 0x02
	return mac, nil
}
