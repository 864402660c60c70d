package datapath

import (
	"fmt"

	"github.com/vishvananda/netlink"
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
		SrcAddr:   n.VTEP,
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

// ensureVXLAN creates, repairs or recreates the VXLAN device of n and
// enslaves it to br. created reports a new device (its FDB is empty).
func (m *Manager) ensureVXLAN(n Network, mtu int, br netlink.Link) (vx netlink.Link, created bool, err error) {
	want := wantVXLAN(n, mtu)
	name := want.Name
	l, err := m.linkByName(name)
	if err != nil {
		return nil, false, err
	}
	if l != nil {
		if have, ok := l.(*netlink.Vxlan); !ok || !vxlanCompatible(have, want) {
			m.log.Info("recreating VXLAN device with other settings", "network", n.ID, "link", name)
			if err := m.nl.LinkDel(l); err != nil {
				return nil, false, fmt.Errorf("delete outdated VXLAN device %s: %w", name, err)
			}
			l = nil
		}
	}
	if l == nil {
		if err := m.nl.LinkAdd(want); err != nil {
			return nil, false, fmt.Errorf("create VXLAN device %s (VNI %d, port %d): %w", name, n.VNI, want.Port, err)
		}
		created = true
		if l, err = m.mustLink(name); err != nil {
			return nil, false, err
		}
	}
	if l.Attrs().MasterIndex != br.Attrs().Index {
		if err := m.nl.LinkSetMaster(l, br); err != nil {
			return nil, false, fmt.Errorf("enslave %s to %s: %w", name, br.Attrs().Name, err)
		}
	}
	return l, created, m.ensureLinkState(l, mtu, n.ID) // the alias marks it as weavego's (see Leftovers)
}

// DeleteNetwork removes the bridge, the VXLAN device and the veths attached
// to the bridge of network id, and its firewall rules. Absent devices are
// not an error.
func (m *Manager) DeleteNetwork(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.remotes, id)
	br, err := m.linkByName(BridgeName(id))
	if err != nil {
		return err
	}
	var errs []error
	if br != nil {
		errs = append(errs, m.deletePorts(br))
	}
	errs = append(errs, m.deleteLink(VXLANName(id)), m.deleteLink(BridgeName(id)))
	if err := joinErrs(errs); err != nil {
		return fmt.Errorf("delete network %s: %w", id, err)
	}
	return m.ensureFirewall()
}

// deletePorts deletes the veths enslaved to br (their peers go with them).
func (m *Manager) deletePorts(br netlink.Link) error {
	links, err := m.nl.LinkList()
	if err != nil {
		return fmt.Errorf("list links: %w", err)
	}
	var errs []error
	for _, l := range links {
		if _, ok := l.(*netlink.Veth); !ok || l.Attrs().MasterIndex != br.Attrs().Index {
			continue
		}
		if err := m.nl.LinkDel(l); err != nil {
			errs = append(errs, fmt.Errorf("delete veth %s: %w", l.Attrs().Name, err))
		}
	}
	return joinErrs(errs)
}
