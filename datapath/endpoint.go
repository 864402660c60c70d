package datapath

import (
	"bytes"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
)

// Endpoint is the desired veth pair of one local container endpoint.
type Endpoint struct {
	NetworkID string
	ID        string
	// MAC is given to the container end; nil leaves the kernel's.
	MAC net.HardwareAddr
	// MTU of both ends; 0 means the MTU of the network's bridge.
	MTU int
}

// CreateEndpoint makes the veth pair of ep exist: host end enslaved to the
// network's bridge and up, container end (left down in this namespace for
// Docker to move) with ep's MAC and MTU. It is idempotent; once the
// container end has been moved away only the host end is checked.
func (m *Manager) CreateEndpoint(ep Endpoint) (hostIf, containerIf string, err error) {
	if ep.ID == "" {
		return "", "", fmt.Errorf("endpoint of network %s has no ID", ep.NetworkID)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	hostIf, containerIf = VethNames(ep.ID)
	br, err := m.linkByName(BridgeName(ep.NetworkID))
	if err != nil {
		return "", "", err
	}
	if br == nil {
		return "", "", fmt.Errorf("create endpoint %s: network %s: %w", ep.ID, ep.NetworkID, ErrNetworkNotFound)
	}
	mtu := ep.MTU
	if mtu == 0 {
		mtu = br.Attrs().MTU
	}
	host, err := m.ensureVeth(hostIf, containerIf, mtu, ep.MAC)
	if err != nil {
		return "", "", err
	}
	if host.Attrs().MasterIndex != br.Attrs().Index {
		if err := m.nl.LinkSetMaster(host, br); err != nil {
			return "", "", fmt.Errorf("enslave %s to %s: %w", hostIf, br.Attrs().Name, err)
		}
	}
	if err := m.ensureLinkState(host, mtu, ""); err != nil {
		return "", "", err
	}
	if err := m.ensureContainerEnd(containerIf, mtu, ep.MAC); err != nil {
		return "", "", err
	}
	return hostIf, containerIf, nil
}

// ensureVeth returns the host end of the pair, creating the pair if needed
// and replacing a link of that name that is not a veth.
func (m *Manager) ensureVeth(hostIf, containerIf string, mtu int, mac net.HardwareAddr) (netlink.Link, error) {
	l, err := m.linkByName(hostIf)
	if err != nil {
		return nil, err
	}
	if _, ok := l.(*netlink.Veth); ok {
		return l, nil
	}
	if l != nil {
		if err := m.nl.LinkDel(l); err != nil {
			return nil, fmt.Errorf("delete non-veth link %s: %w", hostIf, err)
		}
	}
	// A leftover container end would make the pair creation fail.
	if err := m.deleteLink(containerIf); err != nil {
		return nil, err
	}
	attrs := netlink.NewLinkAttrs()
	attrs.Name = hostIf
	attrs.MTU = mtu
	// PeerTxQLen -1: the kernel's default queue length on both ends, as Docker's bridge driver has.
	veth := &netlink.Veth{LinkAttrs: attrs, PeerName: containerIf, PeerHardwareAddr: mac, PeerMTU: uint32(mtu), PeerTxQLen: -1}
	if err := m.nl.LinkAdd(veth); err != nil {
		return nil, fmt.Errorf("create veth pair %s/%s: %w", hostIf, containerIf, err)
	}
	return m.mustLink(hostIf)
}

// ensureContainerEnd fixes MTU and MAC of the container end if it is still
// in this namespace.
func (m *Manager) ensureContainerEnd(name string, mtu int, mac net.HardwareAddr) error {
	l, err := m.linkByName(name)
	if err != nil || l == nil {
		return err
	}
	if mac != nil && !bytes.Equal(l.Attrs().HardwareAddr, mac) {
		if err := m.nl.LinkSetHardwareAddr(l, mac); err != nil {
			return fmt.Errorf("set MAC %s on %s: %w", mac, name, err)
		}
	}
	if l.Attrs().MTU != mtu {
		if err := m.nl.LinkSetMTU(l, mtu); err != nil {
			return fmt.Errorf("set MTU %d on %s: %w", mtu, name, err)
		}
	}
	return nil
}

// DeleteEndpoint removes the veth pair of the endpoint. Absent is not an
// error. networkID is used only in errors and logs: names are unique per
// endpoint.
func (m *Manager) DeleteEndpoint(networkID, endpointID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	hostIf, containerIf := VethNames(endpointID)
	if err := m.deleteLink(hostIf); err != nil {
		return fmt.Errorf("delete endpoint %s of network %s: %w", endpointID, networkID, err)
	}
	if err := m.deleteLink(containerIf); err != nil {
		return fmt.Errorf("delete endpoint %s of network %s: %w", endpointID, networkID, err)
	}
	return nil
}
