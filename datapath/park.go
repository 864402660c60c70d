package datapath

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// The pin of a network's namespace is a bind mount under the plugin's
// propagated mount, and Docker unmounts that directory when it stops the
// plugin for good (docker plugin disable, upgrade, make install, dockerd
// stop): the namespace would die, and the bridge, the VXLAN device and the
// host ends of the containers' veths with it. Docker stops a plugin with
// SIGTERM and sends SIGKILL 10 seconds later; a crash or a SIGKILL instead
// leaves the directory mounted and the plugin restarted, pins intact.
//
// So the plugin parks its networks on SIGTERM: Park moves each network back
// into the host namespace, the reverse of migrate.go. A bridge cannot change
// namespace, so a bridge is made in the host namespace with the name, MAC,
// MTU, alias and addresses of the network's; then the VXLAN device (its
// remote entries read before and written again after, since a move flushes
// them) and the host ends of the veths are moved to it and enslaved, the
// namespace's bridge is deleted and the pin removed. Containers keep their
// interfaces and their gateway's MAC, and their traffic flows through the
// host namespace (with the forward rules, firewall_forward.go) while no
// plugin runs; the next EnsureNetwork moves the network into a new
// namespace again. Each network's traffic stops for a few netlink calls.

// Park moves every network held in a namespace back into the host
// namespace, as described above, and puts the forward rules in place. It
// stops moving networks when ctx ends (the caller's share of Docker's
// shutdown timeout); the networks not yet moved are reported. The caller
// stops calling the Manager's other methods first. Park is idempotent.
// It waits for the background deletes of veth pairs first (within ctx):
// a pair deleted before is one fewer to move.
func (m *Manager) Park(ctx context.Context) error {
	if err := m.WaitDeletes(ctx); err != nil {
		m.log.Warn("parking with veth pairs not yet deleted; the next start sweeps them", "err", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ids, _, err := m.pinnedIDs()
	if err != nil {
		return err
	}
	for id := range m.nets {
		ids = append(ids, id)
	}
	ids = sortedUnique(ids)
	host, done, err := m.hostNSHandle()
	if err != nil {
		return err
	}
	defer done()
	var errs []error
	for i, id := range ids {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("park networks: %d of %d left in their namespaces: %w", len(ids)-i, len(ids), err))
			break
		}
		if err := m.parkNetwork(host, id); err != nil {
			errs = append(errs, fmt.Errorf("park network %s: %w", id, err))
		}
	}
	return errors.Join(append(errs, m.ensureFirewall())...)
}

// hostNSHandle returns a handle of the Manager's host namespace: the one it
// was given, or this process's (the process, not the calling thread: a
// thread may be in another namespace for a moment, see nsrun).
func (m *Manager) hostNSHandle() (netns.NsHandle, func(), error) {
	if m.hostNS != 0 {
		return m.hostNS, func() {}, nil
	}
	h, err := netns.GetFromPath("/proc/self/ns/net")
	if err != nil {
		return 0, nil, fmt.Errorf("open the host network namespace: %w", err)
	}
	return h, func() { h.Close() }, nil
}

// parkNetwork moves network id from its namespace into the host namespace
// host. mu is held.
func (m *Manager) parkNetwork(host netns.NsHandle, id string) error {
	ns, err := m.netOf(id, false)
	if err != nil || ns == nil {
		return err
	}
	br, err := linkByName(ns.nl, BridgeName(id))
	if err != nil {
		return err
	}
	if br == nil {
		return m.dropNet(id)
	}
	hbr, err := m.hostBridgeFor(id, br, ns.nl)
	if err != nil {
		return err
	}
	vx, err := linkByName(ns.nl, VXLANName(id))
	if err != nil {
		return err
	}
	var errs []error
	if vx != nil {
		errs = append(errs, m.parkVXLAN(ns, host, vx, hbr, id))
	}
	errs = append(errs, deleteLink(ns.nl, DirectName(id)))
	ports, err := vethPorts(ns.nl, br)
	if err != nil {
		return err
	}
	for _, p := range ports {
		errs = append(errs, moveToBridge(ns.nl, &netNS{ns: host, nl: m.nl}, p, hbr))
	}
	if err := joinErrs(errs); err != nil {
		return err // the namespace stays pinned: the next start finds both halves
	}
	if err := ns.nl.LinkDel(br); err != nil {
		return fmt.Errorf("delete bridge %s in the namespace: %w", br.Attrs().Name, err)
	}
	m.log.Info("moved network into the host namespace while the plugin stops", "network", id, "endpoints", len(ports))
	return m.dropNet(id)
}

// hostBridgeFor makes the host namespace's bridge of network id a copy of
// br (name, MAC, MTU, IPv4 addresses), marked with id and up, so that the
// containers' gateway keeps its addresses and MAC.
func (m *Manager) hostBridgeFor(id string, br netlink.Link, nl netlinkOps) (netlink.Link, error) {
	a := br.Attrs()
	l, err := linkByName(m.nl, a.Name)
	if err != nil {
		return nil, err
	}
	if l != nil && !isBridge(l) {
		return nil, fmt.Errorf("link %s in the host namespace is not a bridge", a.Name)
	}
	if l == nil {
		if l, err = createBridge(m.nl, a.Name, a.MTU, a.HardwareAddr); err != nil {
			return nil, err
		}
	}
	addrs, err := nl.AddrList(br, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("list addresses of %s: %w", a.Name, err)
	}
	want := make([]*net.IPNet, 0, len(addrs))
	for _, ad := range addrs {
		want = append(want, ad.IPNet)
	}
	if err := ensureBridgeAddrs(m.nl, l, netlink.FAMILY_V4, want); err != nil {
		return nil, err
	}
	return l, ensureLinkState(m.nl, l, a.MTU, id)
}

// parkVXLAN moves vx from ns into host, enslaves it to hbr and writes its
// remote entries again: the last ones given for network id, all through
// VXLAN (a direct network's macvlan stays behind and dies with the
// namespace), or, where none were given, those read from the device.
func (m *Manager) parkVXLAN(ns *netNS, host netns.NsHandle, vx, hbr netlink.Link, id string) error {
	st, ok := m.remotes[id]
	if !ok {
		var err error
		if st, err = readRemotes(ns.nl, vx); err != nil {
			return err
		}
	}
	if err := moveToBridge(ns.nl, &netNS{ns: host, nl: m.nl}, vx, hbr); err != nil {
		return err
	}
	hv, err := mustLink(m.nl, vx.Attrs().Name)
	if err != nil {
		return err
	}
	return m.applyRemotes(m.nl, hv, st)
}
