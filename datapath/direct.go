package datapath

import (
	"crypto/sha256"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/weavego/weavego/internal/ipconv"
)

// A direct network (Network.Direct) carries IPv4 unicast between its
// containers on hosts of one underlay segment without VXLAN: in the
// network's namespace a macvlan device on the underlay link (mode private:
// two networks' macvlans on one host never reach each other, nor the host)
// sends each such container's packets, routed by a /32 route, straight to
// the macvlan MAC its host published. The VXLAN device's proxy ARP answers
// the containers with the bridge's own MAC for those addresses, so they hand
// the packets to the namespace, which routes them; broadcast, multicast,
// IPv6 and peers on other segments stay on VXLAN. The macvlan has no IPv4
// address and never answers ARP; an nftables filter on its ingress
// (direct_filter.go) takes only IPv4 from the peers' published MACs to the
// network's containers.

// DirectPrefix starts the name of a direct network's macvlan device.
const DirectPrefix = "wgm-"

// DirectName is the name of the macvlan device of direct network id.
func DirectName(id string) string { return DirectPrefix + shortID(id) }

// directMAC is the macvlan MAC of network id on a host whose underlay link
// has MAC under: derived, so that it stays the same across restarts and
// re-creations (peers keep their entries), unicast and locally
// administered.
func directMAC(id string, under net.HardwareAddr) net.HardwareAddr {
	sum := sha256.Sum256([]byte("weavego direct " + id + " " + under.String()))
	mac := net.HardwareAddr(sum[:6])
	mac[0] = mac[0]&0xfe | 0x02
	return mac
}

// vtepLink returns the link that holds address vtep, or nil.
func (m *Manager) vtepLink(vtep netip.Addr) (netlink.Link, error) {
	if !vtep.IsValid() {
		return nil, nil
	}
	vtep = vtep.Unmap()
	family := netlink.FAMILY_V4
	if !vtep.Is4() {
		family = netlink.FAMILY_V6
	}
	addrs, err := m.nl.AddrList(nil, family)
	if err != nil {
		return nil, fmt.Errorf("list addresses to find VTEP %s: %w", vtep, err)
	}
	for _, a := range addrs {
		if ipconv.Addr(a.IP) != vtep {
			continue
		}
		links, err := m.nl.LinkList()
		if err != nil {
			return nil, fmt.Errorf("list links to find VTEP %s: %w", vtep, err)
		}
		for _, l := range links {
			if l.Attrs().Index == a.LinkIndex {
				return l, nil
			}
		}
	}
	return nil, nil
}

// ensureDirectOf makes the macvlan of n exist in its namespace, with
// forwarding on there, when n is direct, and removes it (and its filter)
// when not. mu is held.
func (m *Manager) ensureDirectOf(ns *netNS, n Network, mtu int, br netlink.Link) error {
	name := DirectName(n.ID)
	if !n.Direct || !n.hasVXLAN() {
		l, err := linkByName(ns.nl, name)
		if err != nil || l == nil {
			return err
		}
		if err := ns.nl.LinkDel(l); err != nil {
			return fmt.Errorf("delete macvlan %s: %w", name, err)
		}
		// Forwarding stays on on the bridge: containers keep the bridge's
		// MAC for the remotes in their ARP caches for a while, and the
		// namespace routes those packets back onto the bridge, where the
		// VXLAN device takes them.
		delete(m.paths, n.ID)
		return joinErrs([]error{m.removeDirectFilter(ns, n.ID), m.refreshRemotes(ns, n.ID)})
	}
	under, err := m.vtepLink(n.VTEP)
	if err != nil {
		return err
	}
	if under == nil {
		return fmt.Errorf("direct network %s: no link holds this host's address %s", n.ID, n.VTEP)
	}
	mv, err := m.ensureMacvlan(ns, name, under, directMAC(n.ID, under.Attrs().HardwareAddr))
	if err != nil {
		return err
	}
	if _, ok := m.directFilters[n.ID]; !ok { // nothing comes in before the filter is there
		if err := m.ensureFilterOf(ns, n.ID, mv, nil); err != nil {
			return err
		}
	}
	if err := setInetConf(ns.ns, mv.Attrs().Index, macvlanConf); err != nil {
		return fmt.Errorf("settings of macvlan %s: %w", name, err)
	}
	if err := setInetConf(ns.ns, br.Attrs().Index, forwardingOn); err != nil {
		return fmt.Errorf("forwarding on bridge %s: %w", br.Attrs().Name, err)
	}
	if err := ensureLinkState(ns.nl, mv, mtu, n.ID); err != nil {
		return err
	}
	return m.refreshRemotes(ns, n.ID)
}

// refreshRemotes applies the last remotes given for network id again, after
// its macvlan came or went. mu is held.
func (m *Manager) refreshRemotes(ns *netNS, id string) error {
	st, ok := m.remotes[id]
	if !ok {
		return nil
	}
	vx, err := linkByName(ns.nl, VXLANName(id))
	if err != nil || vx == nil {
		return err
	}
	return m.reconcileRemotes(ns, id, vx, st)
}

// ensureMacvlan returns the macvlan name in ns, creating it on under in
// the host namespace and moving it in (as the VXLAN device is), or
// recreating it when its mode, parent or MAC differ.
func (m *Manager) ensureMacvlan(ns *netNS, name string, under netlink.Link, mac net.HardwareAddr) (netlink.Link, error) {
	l, err := linkByName(ns.nl, name)
	if err != nil {
		return nil, err
	}
	if l != nil {
		mv, ok := l.(*netlink.Macvlan)
		if ok && mv.Mode == netlink.MACVLAN_MODE_PRIVATE && mv.HardwareAddr.String() == mac.String() &&
			mv.ParentIndex == under.Attrs().Index {
			return l, nil
		}
		m.log.Info("recreating macvlan with other settings", "link", name)
		if err := ns.nl.LinkDel(l); err != nil {
			return nil, fmt.Errorf("delete outdated macvlan %s: %w", name, err)
		}
	}
	if err := deleteLink(m.nl, name); err != nil { // an interrupted move's
		return nil, err
	}
	attrs := netlink.NewLinkAttrs()
	attrs.Name, attrs.ParentIndex, attrs.HardwareAddr = name, under.Attrs().Index, mac
	if err := m.nl.LinkAdd(&netlink.Macvlan{LinkAttrs: attrs, Mode: netlink.MACVLAN_MODE_PRIVATE}); err != nil {
		return nil, fmt.Errorf("create macvlan %s on %s: %w", name, under.Attrs().Name, err)
	}
	h, err := mustLink(m.nl, name)
	if err != nil {
		return nil, err
	}
	if err := m.nl.LinkSetNsFd(h, int(ns.ns)); err != nil {
		return nil, joinErrs([]error{fmt.Errorf("move macvlan %s into its network's namespace: %w", name, err),
			m.nl.LinkDel(h)})
	}
	l, err = mustLink(ns.nl, name)
	if err != nil {
		return nil, err
	}
	// No IPv6 link-local address either: the namespace never speaks on the
	// segment by itself (no router solicitations, no DAD).
	if err := ns.nl.LinkSetIP6AddrGenMode(l, nl.IN6_ADDR_GEN_MODE_NONE); err != nil {
		return nil, fmt.Errorf("no IPv6 address on macvlan %s: %w", name, err)
	}
	return l, nil
}

// DirectMAC returns the MAC of the macvlan of network id, nil when the
// network is not direct here (or not built yet).
func (m *Manager) DirectMAC(id string) net.HardwareAddr {
	m.mu.Lock()
	defer m.mu.Unlock()
	ns, err := m.netOf(id, false)
	if err != nil || ns == nil {
		return nil
	}
	l, err := linkByName(ns.nl, DirectName(id))
	if err != nil || l == nil {
		return nil
	}
	return l.Attrs().HardwareAddr
}
