package datapath

import (
	"bytes"
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/weavego/weavego/internal/ipconv"
	"golang.org/x/sys/unix"
)

// An earlier weavego kept each network's bridge, VXLAN device and the host
// ends of the veths in the host namespace. EnsureNetwork moves such a
// network into its namespace while its containers run: the VXLAN device is
// moved (ensureVXLAN; its remote entries are read first and written again
// after the move, since a move flushes the neighbour table), then the host
// ends of the veths are moved and enslaved to the new bridge, and the old
// bridge is deleted. Each container keeps its interface, address and MAC
// (the veth pair is never broken); its traffic stops between the move of
// the VXLAN device and the move of its own veth end, which is a few
// netlink calls. Only a bridge weavego provably created (see marked) is
// deleted; the veths moved are those enslaved to it.

// adoptHostPorts moves the veths of the host namespace's bridge of network
// id into ns, enslaves them to br and deletes that bridge. mu is held.
func (m *Manager) adoptHostPorts(ns *netNS, id string, br netlink.Link) error {
	old, err := linkByName(m.nl, BridgeName(id))
	if err != nil || old == nil || !isBridge(old) {
		return err
	}
	if !marked(old.Attrs()) {
		m.log.Warn("leaving a bridge named like a weavego network's in the host namespace: not marked as weavego's",
			"network", id, "link", old.Attrs().Name)
		return nil
	}
	ports, err := vethPorts(m.nl, old)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range ports {
		errs = append(errs, moveToBridge(m.nl, ns, p, br))
	}
	if err := joinErrs(errs); err != nil {
		return fmt.Errorf("move network %s into its namespace: %w", id, err)
	}
	if err := m.nl.LinkDel(old); err != nil {
		return fmt.Errorf("delete the host namespace's bridge %s of network %s: %w", old.Attrs().Name, id, err)
	}
	m.log.Info("moved network into its namespace", "network", id, "endpoints", len(ports))
	return nil
}

// moveToBridge moves l (a VXLAN device or the host end of a veth) from the
// namespace of from into to, enslaves it to br, a bridge in to, and sets it
// up. Migration (into a network's namespace) and Park (out of it) both move
// links this way.
func moveToBridge(from netlinkOps, to *netNS, l, br netlink.Link) error {
	name := l.Attrs().Name
	if err := from.LinkSetNsFd(l, int(to.ns)); err != nil {
		return fmt.Errorf("move %s to the namespace of bridge %s: %w", name, br.Attrs().Name, err)
	}
	moved, err := mustLink(to.nl, name)
	if err != nil {
		return err
	}
	if err := to.nl.LinkSetMaster(moved, br); err != nil {
		return fmt.Errorf("enslave %s to %s: %w", name, br.Attrs().Name, err)
	}
	return ensureLinkState(to.nl, moved, 0, "")
}

// readRemotes reads the permanent FDB and neighbour entries of vx as a
// remote state: a remote per unicast MAC with a destination (with the
// address a neighbour entry gives that MAC), a flood VTEP per all-zero MAC.
func readRemotes(nl netlinkOps, vx netlink.Link) (remoteState, error) {
	index := vx.Attrs().Index
	fdb, err := nl.NeighList(index, unix.AF_BRIDGE)
	if err != nil {
		return remoteState{}, fmt.Errorf("list FDB of %s: %w", vx.Attrs().Name, err)
	}
	neighs, err := nl.NeighList(index, unix.AF_INET)
	if err != nil {
		return remoteState{}, fmt.Errorf("list neighbours of %s: %w", vx.Attrs().Name, err)
	}
	var st remoteState
	for _, f := range fdb {
		if f.State&netlink.NUD_PERMANENT == 0 || f.IP == nil || len(f.HardwareAddr) != 6 {
			continue
		}
		if isZeroMAC(f.HardwareAddr) {
			st.flood = append(st.flood, ipconv.Addr(f.IP))
			continue
		}
		r := Remote{MAC: f.HardwareAddr, VTEP: ipconv.Addr(f.IP)}
		for _, n := range neighs {
			if n.State&netlink.NUD_PERMANENT != 0 && bytes.Equal(n.HardwareAddr, f.HardwareAddr) {
				r.IP = ipconv.Addr(n.IP)
			}
		}
		st.remotes = append(st.remotes, r)
	}
	return st, nil
}
