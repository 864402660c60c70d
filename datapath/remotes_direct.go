package datapath

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/weavego/weavego/internal/ipconv"
)

// Path reasons of DirectPaths.
const (
	PathDirect      = "direct"
	reasonNoMAC     = "vxlan: the peer publishes no direct MAC for this network (not direct there, or an older weavego)"
	reasonNoSegment = "vxlan: not on this host's underlay segment"
)

// directEnv is what planDirect needs to know of the kernel.
type directEnv struct {
	// router is the bridge's MAC, which the containers are told for the
	// addresses of direct remotes; nil: the network is not direct here.
	router net.HardwareAddr
	// segment says why vtep is not on this host's underlay segment, ""
	// when it is.
	segment func(vtep netip.Addr) string
}

// directPlan is the split of one network's remotes.
type directPlan struct {
	// vxlan is the state of the VXLAN device: every remote's FDB entry;
	// direct remotes' neighbour entries point at the router.
	vxlan remoteState
	// direct are the remotes reached through the macvlan (MAC = the
	// peer's macvlan MAC).
	direct []Remote
	// paths is, per peer VTEP, PathDirect or why not.
	paths map[netip.Addr]string
}

// planDirect decides, per remote, VXLAN or direct: direct when the network
// is direct here, the remote is IPv4, its host published a direct MAC and
// is on this host's underlay segment.
func planDirect(st remoteState, env directEnv) directPlan {
	p := directPlan{vxlan: remoteState{flood: st.flood}, paths: map[netip.Addr]string{}}
	for _, r := range st.remotes {
		r.router = nil
		if env.router == nil {
			p.vxlan.remotes = append(p.vxlan.remotes, r)
			continue
		}
		why, seen := p.paths[r.VTEP]
		if !seen {
			why = PathDirect
			if !usableDirectMAC(r.DirectMAC) {
				why = reasonNoMAC
			} else if s := env.segment(r.VTEP); s != "" {
				why = reasonNoSegment + ": " + s
			}
			p.paths[r.VTEP] = why
		}
		if why == PathDirect && usableDirectMAC(r.DirectMAC) && r.IP.Unmap().Is4() {
			p.direct = append(p.direct, Remote{IP: r.IP.Unmap(), MAC: r.DirectMAC, VTEP: r.VTEP})
			r.router = env.router
		}
		p.vxlan.remotes = append(p.vxlan.remotes, r)
	}
	return p
}

func usableDirectMAC(mac net.HardwareAddr) bool {
	return len(mac) == 6 && !isZeroMAC(mac) && mac[0]&1 == 0
}

// peerMACs are the distinct macvlan MACs of the direct remotes.
func (p directPlan) peerMACs() []net.HardwareAddr {
	seen := map[string]bool{}
	var out []net.HardwareAddr
	for _, r := range p.direct {
		if !seen[r.MAC.String()] {
			seen[r.MAC.String()] = true
			out = append(out, r.MAC)
		}
	}
	return out
}

// segmentOf returns the check of planDirect: the host namespace's route to
// a VTEP must have no gateway and leave by link parent (the macvlan's).
func (m *Manager) segmentOf(parent int) func(netip.Addr) string {
	return func(vtep netip.Addr) string {
		routes, err := m.nl.RouteGet(ipconv.IP(vtep.Unmap()))
		switch {
		case err != nil:
			return fmt.Sprintf("no route to %s: %v", vtep, err)
		case len(routes) == 0:
			return fmt.Sprintf("no route to %s", vtep)
		case routes[0].Gw != nil:
			return fmt.Sprintf("the route to %s goes through gateway %s", vtep, routes[0].Gw)
		case routes[0].LinkIndex != parent:
			return fmt.Sprintf("the route to %s leaves by another link than the underlay's", vtep)
		}
		return ""
	}
}

// reconcileRemotes makes the VXLAN device vx of network id, and its
// macvlan when the network is direct, match st. New direct routes go in
// before the containers are told the router, old ones go after they are
// told the remote's MAC again, so no packet meets a gap. mu is held.
func (m *Manager) reconcileRemotes(ns *netNS, id string, vx netlink.Link, st remoteState) error {
	mv, err := linkByName(ns.nl, DirectName(id))
	if err != nil {
		return err
	}
	env := directEnv{}
	if mv != nil {
		br, err := mustLink(ns.nl, BridgeName(id))
		if err != nil {
			return err
		}
		env = directEnv{router: br.Attrs().HardwareAddr, segment: m.segmentOf(mv.Attrs().ParentIndex)}
	}
	p := planDirect(st, env)
	m.paths[id] = p.paths
	if mv == nil {
		return m.applyRemotes(ns.nl, vx, p.vxlan)
	}
	if err := m.ensureFilterOf(ns, id, mv, p.peerMACs()); err != nil {
		return err
	}
	addErr := applyDirect(ns.nl, mv, p.direct, false)
	vxErr := m.applyRemotes(ns.nl, vx, p.vxlan)
	return joinErrs([]error{addErr, vxErr, applyDirect(ns.nl, mv, p.direct, true)})
}

// ensureFilterOf writes the ingress filter of macvlan mv for the given
// peers, with the subnet and gateway read from the bridge.
func (m *Manager) ensureFilterOf(ns *netNS, id string, mv netlink.Link, peers []net.HardwareAddr) error {
	br, err := mustLink(ns.nl, BridgeName(id))
	if err != nil {
		return err
	}
	addrs, err := ns.nl.AddrList(br, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list addresses of %s: %w", br.Attrs().Name, err)
	}
	f := directFilter{dev: mv.Attrs().Name, index: mv.Attrs().Index, peers: peers}
	for _, a := range addrs {
		if ones, _ := a.Mask.Size(); ones < 32 {
			p := ipconv.Prefix(a.IPNet)
			f.subnet, f.gateway = p.Masked(), p.Addr()
		}
	}
	return m.ensureDirectFilter(ns, id, f)
}

// applyDirect adds (del false) or removes (del true) what makes the
// macvlan mv carry exactly direct: a /32 route and a permanent neighbour
// entry per remote.
func applyDirect(nl netlinkOps, mv netlink.Link, direct []Remote, del bool) error {
	index, name := mv.Attrs().Index, mv.Attrs().Name
	routes, err := nl.RouteList(mv, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list routes of %s: %w", name, err)
	}
	want := map[netip.Addr]bool{}
	for _, r := range direct {
		want[r.IP] = true
	}
	var errs []error
	have := map[netip.Addr]bool{}
	for _, rt := range routes {
		if rt.Dst == nil {
			continue
		}
		p := ipconv.Prefix(rt.Dst)
		if p.Bits() == 32 && want[p.Addr()] {
			have[p.Addr()] = true
		} else if del {
			errs = append(errs, ignoreNotFound(nl.RouteDel(&rt)))
		}
	}
	neighs, err := nl.NeighList(index, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list neighbours of %s: %w", name, err)
	}
	np := planNeigh(index, neighs, remoteState{remotes: direct})
	if del {
		for _, n := range np.del {
			errs = append(errs, wrapNeigh("delete neighbour", n, name, ignoreNotFound(nl.NeighDel(n))))
		}
		return joinErrs(errs)
	}
	for _, n := range np.set {
		errs = append(errs, wrapNeigh("set neighbour", n, name, nl.NeighSet(n)))
	}
	for _, r := range direct {
		if have[r.IP] {
			continue
		}
		rt := &netlink.Route{LinkIndex: index, Dst: ipconv.IPNet(netip.PrefixFrom(r.IP, 32)), Scope: netlink.SCOPE_LINK}
		if err := nl.RouteReplace(rt); err != nil {
			errs = append(errs, fmt.Errorf("route %s dev %s: %w", r.IP, name, err))
		}
	}
	return joinErrs(errs)
}

// DirectPaths returns, for network id, per peer VTEP the path its
// containers take: PathDirect, or "vxlan: " and why. Empty when the
// network is not direct here.
func (m *Manager) DirectPaths(id string) map[netip.Addr]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[netip.Addr]string{}
	for k, v := range m.paths[id] {
		out[k] = v
	}
	return out
}
