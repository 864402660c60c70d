package datapath

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Remote is a container on another host reachable through the tunnel.
type Remote struct {
	// IP of the container; the zero Addr means no neighbour entry (FDB
	// only).
	IP  netip.Addr
	MAC net.HardwareAddr
	// VTEP is the underlay address of the container's host.
	VTEP netip.Addr
	// DirectMAC is the MAC of the macvlan of the container's network on
	// its host, which that host published; nil: none, VXLAN only. On a
	// direct network, an IPv4 remote with one on this host's underlay
	// segment is reached through the macvlan (remotes_direct.go).
	DirectMAC net.HardwareAddr
	// router, set by planDirect, replaces MAC in the VXLAN device's
	// neighbour entry: the bridge's MAC, so that the namespace routes.
	router net.HardwareAddr
}

// neighMAC is the MAC of r's neighbour entry on the VXLAN device.
func (r Remote) neighMAC() net.HardwareAddr {
	if r.router != nil {
		return r.router
	}
	return r.MAC
}

// remoteState is the desired remote state of one network.
type remoteState struct {
	remotes []Remote
	flood   []netip.Addr
}

// usable splits st into the remotes and flood VTEPs the kernel can take and
// the reasons for the others. One bad remote (from one host) must never
// keep the good ones of the other hosts out of the kernel.
func (st remoteState) usable() (remoteState, []string) {
	var ok remoteState
	var bad []string
	for _, r := range st.remotes {
		if len(r.MAC) != 6 || isZeroMAC(r.MAC) || r.MAC[0]&1 != 0 || !r.VTEP.IsValid() || r.VTEP.IsUnspecified() {
			bad = append(bad, fmt.Sprintf("remote %s (MAC %q, VTEP %s): need a 6-byte unicast MAC and a VTEP", r.IP, r.MAC, r.VTEP))
			continue
		}
		ok.remotes = append(ok.remotes, r)
	}
	for _, v := range st.flood {
		if !v.IsValid() || v.IsUnspecified() {
			bad = append(bad, "empty flood VTEP")
			continue
		}
		ok.flood = append(ok.flood, v)
	}
	return ok, bad
}

// SetRemotes makes the VXLAN device of network networkID hold exactly:
// a permanent FDB entry MAC -> VTEP and a permanent neighbour entry
// IP -> MAC per remote, and an all-zero FDB entry per flood VTEP. Other
// entries on that device are removed; other devices are never touched.
// The set is remembered and re-applied if EnsureNetwork recreates the
// device. A network without VXLAN device accepts only an empty set. On a
// direct network the remotes it can reach without VXLAN get their routes
// and neighbour entries on its macvlan (remotes_direct.go).
func (m *Manager) SetRemotes(networkID string, remotes []Remote, floodVTEPs []netip.Addr) error {
	st, bad := remoteState{remotes: remotes, flood: floodVTEPs}.usable()
	for _, why := range bad {
		m.log.Warn("skipping an unusable remote", "network", networkID, "reason", why)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.remotes[networkID] = st
	name := VXLANName(networkID)
	ns, err := m.netOf(networkID, false)
	if err != nil {
		return err
	}
	var vx netlink.Link
	if ns != nil {
		if vx, err = linkByName(ns.nl, name); err != nil {
			return err
		}
	}
	if vx == nil {
		if len(st.remotes) == 0 && len(st.flood) == 0 {
			return nil
		}
		return fmt.Errorf("set remotes of network %s: no VXLAN device %s: %w", networkID, name, ErrNetworkNotFound)
	}
	return m.reconcileRemotes(ns, networkID, vx, st)
}

// applyRemotes reconciles the FDB and neighbour table of vx with st.
func (m *Manager) applyRemotes(nl netlinkOps, vx netlink.Link, st remoteState) error {
	index, name := vx.Attrs().Index, vx.Attrs().Name
	fdb, err := nl.NeighList(index, unix.AF_BRIDGE)
	if err != nil {
		return fmt.Errorf("list FDB of %s: %w", name, err)
	}
	neighs, err := listNeighs(nl, index)
	if err != nil {
		return fmt.Errorf("list neighbours of %s: %w", name, err)
	}
	fp := planFDB(index, fdb, st)
	np := planNeigh(index, neighs, st)
	for _, c := range fp.conflicts {
		m.log.Warn("conflicting remotes, keeping the first", "link", name, "conflict", c)
	}
	var errs []error
	for _, n := range fp.del {
		errs = append(errs, wrapNeigh("delete FDB entry", n, name, ignoreNotFound(nl.NeighDel(n))))
	}
	for _, n := range np.del {
		errs = append(errs, wrapNeigh("delete neighbour", n, name, ignoreNotFound(nl.NeighDel(n))))
	}
	for _, n := range fp.set {
		errs = append(errs, wrapNeigh("set FDB entry", n, name, nl.NeighSet(n)))
	}
	for _, n := range fp.add {
		errs = append(errs, wrapNeigh("append FDB entry", n, name, nl.NeighAppend(n)))
	}
	for _, n := range np.set {
		errs = append(errs, wrapNeigh("set neighbour", n, name, nl.NeighSet(n)))
	}
	return joinErrs(errs)
}

func listNeighs(nl netlinkOps, index int) ([]netlink.Neigh, error) {
	v4, err := nl.NeighList(index, unix.AF_INET)
	if err != nil {
		return nil, err
	}
	v6, err := nl.NeighList(index, unix.AF_INET6)
	if err != nil {
		return nil, err
	}
	return append(v4, v6...), nil
}

func wrapNeigh(op string, n *netlink.Neigh, dev string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s %s -> %s on %s: %w", op, n.HardwareAddr, n.IP, dev, err)
}

func ignoreNotFound(err error) error {
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}
