package datapath

import (
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/weavego/weavego/internal/ipconv"
)

// wantVXLAN is the VXLAN device n needs. Learning is off and proxy is on:
// FDB and neighbour entries come only from SetRemotes, and ARP/ND requests
// are answered from the neighbour table instead of crossing the tunnel.
// The outer UDP checksum is computed (and usually offloaded): IPv6 forbids
// a zero checksum by default, recent kernels default to it for IPv4 too,
// and the netlink library cannot ask for "noudpcsum" anyway.
func wantVXLAN(n Network, mtu int) *netlink.Vxlan {
	attrs := netlink.NewLinkAttrs()
	attrs.Name = VXLANName(n.ID)
	attrs.MTU = mtu
	return &netlink.Vxlan{
		LinkAttrs: attrs,
		VxlanId:   int(n.VNI),
		SrcAddr:   ipconv.IP(n.VTEP),
		Port:      n.port(),
		Learning:  false,
		Proxy:     true,
		UDPCSum:   true,
	}
}

// vxlanCompatible reports whether an existing VXLAN device can be kept.
// MTU is not compared: it can be changed in place.
func vxlanCompatible(have, want *netlink.Vxlan) bool {
	return have.VxlanId == want.VxlanId &&
		have.Port == want.Port &&
		have.SrcAddr.Equal(want.SrcAddr) &&
		have.Learning == want.Learning &&
		have.Proxy == want.Proxy &&
		have.UDPCSum == want.UDPCSum &&
		!have.FlowBased
}

// ensureVXLAN creates, repairs or recreates the VXLAN device of n in its
// namespace and enslaves it to br. A new device is created in the host
// namespace, so that its UDP socket is bound there, on the underlay, and then
// moved into the network's namespace; a device of that name already in the
// host namespace (an earlier weavego's, or one whose move was interrupted)
// is moved instead, keeping its socket. created reports a device new to the
// namespace (its FDB and neighbour entries are to be written).
func (m *Manager) ensureVXLAN(ns *netNS, n Network, mtu int, br netlink.Link) (vx netlink.Link, created bool, err error) {
	want := wantVXLAN(n, mtu)
	name := want.Name
	l, err := linkByName(ns.nl, name)
	if err != nil {
		return nil, false, err
	}
	if l != nil && !compatibleVXLAN(l, want) {
		m.log.Info("recreating VXLAN device with other settings", "network", n.ID, "link", name)
		if err := ns.nl.LinkDel(l); err != nil {
			return nil, false, fmt.Errorf("delete outdated VXLAN device %s: %w", name, err)
		}
		l = nil
	}
	if l == nil {
		if l, err = m.moveVXLANIn(ns, n, want); err != nil {
			return nil, false, err
		}
		created = true
	}
	if l.Attrs().MasterIndex != br.Attrs().Index {
		if err := ns.nl.LinkSetMaster(l, br); err != nil {
			return nil, false, fmt.Errorf("enslave %s to %s: %w", name, br.Attrs().Name, err)
		}
	}
	return l, created, ensureLinkState(ns.nl, l, mtu, n.ID) // the alias marks it as weavego's (see Leftovers)
}

func compatibleVXLAN(l netlink.Link, want *netlink.Vxlan) bool {
	have, ok := l.(*netlink.Vxlan)
	return ok && vxlanCompatible(have, want)
}

// moveVXLANIn moves the host namespace's device named like n's into ns,
// creating it there first when it is missing or differs. Before moving an
// earlier weavego's device, it keeps its remote entries as n's desired
// remotes if none were given yet, so the moved device gets them back at once.
func (m *Manager) moveVXLANIn(ns *netNS, n Network, want *netlink.Vxlan) (netlink.Link, error) {
	name := want.Name
	h, err := linkByName(m.nl, name)
	if err != nil {
		return nil, err
	}
	if h != nil && !compatibleVXLAN(h, want) {
		if err := m.nl.LinkDel(h); err != nil {
			return nil, fmt.Errorf("delete outdated VXLAN device %s in the host namespace: %w", name, err)
		}
		h = nil
	}
	if h != nil {
		if _, ok := m.remotes[n.ID]; !ok {
			if st, err := readRemotes(m.nl, h); err == nil {
				m.remotes[n.ID] = st
			}
		}
	} else {
		if err := m.nl.LinkAdd(want); err != nil {
			return nil, fmt.Errorf("create VXLAN device %s (VNI %d, port %d): %w", name, n.VNI, want.Port, err)
		}
		if h, err = mustLink(m.nl, name); err != nil {
			return nil, err
		}
	}
	if err := m.nl.LinkSetNsFd(h, int(ns.ns)); err != nil {
		return nil, fmt.Errorf("move VXLAN device %s into the namespace of network %s: %w", name, n.ID, err)
	}
	return mustLink(ns.nl, name)
}

// DeleteNetwork removes the namespace of network id with everything in it
// (bridge, VXLAN device, the veths of its endpoints), what an earlier
// weavego left for it in the host namespace, and refreshes the firewall.
// Absent devices are not an error.
func (m *Manager) DeleteNetwork(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.remotes, id)
	var errs []error
	ns, err := m.netOf(id, false)
	if err != nil {
		errs = append(errs, err)
	}
	if ns != nil {
		// Devices go now, not when the last socket in the namespace closes.
		errs = append(errs, deleteBridgeAndPorts(ns.nl, id))
	}
	errs = append(errs, deleteBridgeAndPorts(m.nl, id), m.dropNet(id))
	if err := joinErrs(errs); err != nil {
		return fmt.Errorf("delete network %s: %w", id, err)
	}
	return m.ensureFirewall()
}

// deleteBridgeAndPorts deletes the veths enslaved to the bridge of id, its
// VXLAN device and the bridge, in the namespace of nl.
func deleteBridgeAndPorts(nl netlinkOps, id string) error {
	br, err := linkByName(nl, BridgeName(id))
	if err != nil {
		return err
	}
	var errs []error
	if br != nil {
		errs = append(errs, deletePorts(nl, br))
	}
	errs = append(errs, deleteLink(nl, VXLANName(id)), deleteLink(nl, BridgeName(id)))
	return joinErrs(errs)
}

// deletePorts deletes the veths enslaved to br (their peers go with them).
func deletePorts(nl netlinkOps, br netlink.Link) error {
	ports, err := vethPorts(nl, br)
	if err != nil {
		return err
	}
	var errs []error
	for _, l := range ports {
		if err := nl.LinkDel(l); err != nil {
			errs = append(errs, fmt.Errorf("delete veth %s: %w", l.Attrs().Name, err))
		}
	}
	return joinErrs(errs)
}

// vethPorts lists the veths enslaved to br.
func vethPorts(nl netlinkOps, br netlink.Link) ([]netlink.Link, error) {
	links, err := nl.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	var out []netlink.Link
	for _, l := range links {
		if _, ok := l.(*netlink.Veth); ok && l.Attrs().MasterIndex == br.Attrs().Index {
			out = append(out, l)
		}
	}
	return out, nil
}
