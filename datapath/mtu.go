package datapath

import "net/netip"

// VXLAN encapsulation overhead: outer Ethernet is not counted by the MTU,
// so it is outer IP + UDP (8) + VXLAN (8) + inner Ethernet (14).
const (
	overheadIPv4 = 20 + 8 + 8 + 14
	overheadIPv6 = 40 + 8 + 8 + 14
	// DefaultMTU is the MTU used when neither the caller nor the underlay
	// link says otherwise: 1500 minus the IPv4 VXLAN overhead.
	DefaultMTU = 1500 - overheadIPv4
)

// overlayMTU is the largest inner MTU a link of linkMTU can carry through
// VXLAN to vtep; DefaultMTU when the link is unknown (linkMTU <= 0).
func overlayMTU(linkMTU int, vtep netip.Addr) int {
	if linkMTU <= 0 {
		return DefaultMTU
	}
	if !vtep.Unmap().Is4() {
		return linkMTU - overheadIPv6
	}
	return linkMTU - overheadIPv4
}

// vtepLinkMTU returns the MTU of the link that holds address vtep, or 0
// when no link holds it.
func (m *Manager) vtepLinkMTU(vtep netip.Addr) (int, error) {
	l, err := m.vtepLink(vtep)
	if err != nil || l == nil {
		return 0, err
	}
	return l.Attrs().MTU, nil
}

// effectiveMTU resolves Network.MTU's "0 = automatic".
func (m *Manager) effectiveMTU(n Network) (int, error) {
	if n.MTU > 0 {
		return n.MTU, nil
	}
	linkMTU, err := m.vtepLinkMTU(n.VTEP)
	if err != nil {
		return 0, err
	}
	return overlayMTU(linkMTU, n.VTEP) - n.TunnelOverhead, nil
}

// UnderlayMTU is the MTU of the link that holds the host's underlay address
// (Config.VTEP), or 0 when no link holds it.
func (m *Manager) UnderlayMTU() (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.vtepLinkMTU(m.input.vtep)
}
