package datapath

import (
	"bytes"
	"errors"
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

// CreateEndpoint makes the veth pair of ep exist: host end in the
// network's namespace, enslaved to its bridge and up; container end in the
// host namespace (left down for Docker to move) with ep's MAC and MTU. It is
// idempotent; once the container end has been moved away only the host end
// is checked.
func (m *Manager) CreateEndpoint(ep Endpoint) (hostIf, containerIf string, err error) {
	if ep.ID == "" {
		return "", "", fmt.Errorf("endpoint of network %s has no ID", ep.NetworkID)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if oldNet, ok := m.takePending(ep.ID); ok { // so that the background delete cannot remove the new pair
		if err := m.deleteEndpoint(oldNet, ep.ID); err != nil {
			return "", "", fmt.Errorf("create endpoint %s: %w", ep.ID, err)
		}
	}
	hostIf, containerIf = VethNames(ep.ID)
	ns, err := m.netOf(ep.NetworkID, false)
	if err != nil {
		return "", "", err
	}
	var br netlink.Link
	if ns != nil {
		if br, err = linkByName(ns.nl, BridgeName(ep.NetworkID)); err != nil {
			return "", "", err
		}
	}
	if br == nil {
		return "", "", fmt.Errorf("create endpoint %s: network %s: %w", ep.ID, ep.NetworkID, ErrNetworkNotFound)
	}
	mtu := ep.MTU
	if mtu == 0 {
		mtu = br.Attrs().MTU
	}
	host, err := m.ensureVeth(ns, hostIf, containerIf, mtu, ep.MAC)
	if err != nil {
		return "", "", err
	}
	if host.Attrs().MasterIndex != br.Attrs().Index {
		if err := ns.nl.LinkSetMaster(host, br); err != nil {
			return "", "", fmt.Errorf("enslave %s to %s: %w", hostIf, br.Attrs().Name, err)
		}
	}
	if err := ensureLinkState(ns.nl, host, mtu, ""); err != nil {
		return "", "", err
	}
	if err := m.ensureContainerEnd(containerIf, mtu, ep.MAC); err != nil {
		return "", "", err
	}
	return hostIf, containerIf, nil
}

// ensureVeth returns the host end of the pair in ns, creating the pair if
// needed (host end in ns, container end here) and replacing a link of that
// name that is not a veth. A host end left in the host namespace (by an
// earlier weavego) is moved into ns.
func (m *Manager) ensureVeth(ns *netNS, hostIf, containerIf string, mtu int, mac net.HardwareAddr) (netlink.Link, error) {
	l, err := linkByName(ns.nl, hostIf)
	if err != nil {
		return nil, err
	}
	if _, ok := l.(*netlink.Veth); ok {
		return l, nil
	}
	if l != nil {
		if err := ns.nl.LinkDel(l); err != nil {
			return nil, fmt.Errorf("delete non-veth link %s: %w", hostIf, err)
		}
	}
	old, err := linkByName(m.nl, hostIf)
	if err != nil {
		return nil, err
	}
	if _, ok := old.(*netlink.Veth); ok {
		if err := m.nl.LinkSetNsFd(old, int(ns.ns)); err != nil {
			return nil, fmt.Errorf("move %s into the network's namespace: %w", hostIf, err)
		}
		return mustLink(ns.nl, hostIf)
	}
	// Leftovers would make the pair creation fail.
	if err := errors.Join(deleteLink(m.nl, hostIf), deleteLink(m.nl, containerIf)); err != nil {
		return nil, err
	}
	attrs := netlink.NewLinkAttrs() // TxQLen -1: the kernel's default queue length, as Docker's bridge driver has
	attrs.Name = containerIf
	attrs.MTU = mtu
	attrs.HardwareAddr = mac
	veth := &netlink.Veth{LinkAttrs: attrs, PeerName: hostIf, PeerMTU: uint32(mtu), PeerTxQLen: -1,
		PeerNamespace: netlink.NsFd(ns.ns)}
	if err := m.nl.LinkAdd(veth); err != nil {
		return nil, fmt.Errorf("create veth pair %s/%s: %w", hostIf, containerIf, err)
	}
	return mustLink(ns.nl, hostIf)
}

// ensureContainerEnd fixes MTU and MAC of the container end if it is still
// in this namespace.
func (m *Manager) ensureContainerEnd(name string, mtu int, mac net.HardwareAddr) error {
	l, err := linkByName(m.nl, name)
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

// DeleteEndpoint removes the veth pair of the endpoint, wherever its ends
// are. Absent is not an error. Names are unique per endpoint.
func (m *Manager) DeleteEndpoint(networkID, endpointID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.takePending(endpointID) // deleted now: nothing left for the background
	return m.deleteEndpoint(networkID, endpointID)
}

// deleteEndpoint is DeleteEndpoint with mu held.
func (m *Manager) deleteEndpoint(networkID, endpointID string) error {
	hostIf, containerIf := VethNames(endpointID)
	ns, err := m.netOf(networkID, false)
	errs := []error{err}
	if ns != nil {
		errs = append(errs, deleteLink(ns.nl, hostIf))
	}
	errs = append(errs, deleteLink(m.nl, hostIf), deleteLink(m.nl, containerIf))
	if err := joinErrs(errs); err != nil {
		return fmt.Errorf("delete endpoint %s of network %s: %w", endpointID, networkID, err)
	}
	return nil
}
