package datapath

import (
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
)

// neighPlan lists the kernel changes that reconcile one table.
type neighPlan struct {
	set       []*netlink.Neigh // add or replace
	add       []*netlink.Neigh // append (all-zero FDB entries)
	del       []*netlink.Neigh
	conflicts []string
}

// planFDB compares the dumped FDB of device index with st. A unicast MAC
// has one destination, so a changed VTEP is a replace; the all-zero MAC has
// one entry per flood VTEP, appended and deleted one by one.
func planFDB(index int, existing []netlink.Neigh, st remoteState) neighPlan {
	var p neighPlan
	wantMAC := map[string]net.IP{}
	for _, r := range st.remotes {
		k := r.MAC.String()
		if v, dup := wantMAC[k]; dup && !v.Equal(r.VTEP) {
			p.conflicts = append(p.conflicts, fmt.Sprintf("MAC %s at VTEPs %s and %s", k, v, r.VTEP))
			continue
		}
		wantMAC[k] = r.VTEP
	}
	wantFlood := map[string]net.IP{}
	for _, v := range st.flood {
		wantFlood[v.String()] = v
	}
	haveMAC := map[string]bool{}
	haveFlood := map[string]bool{}
	for _, n := range existing {
		if !isOurFDB(n, index) {
			continue
		}
		if isZeroMAC(n.HardwareAddr) {
			if _, ok := wantFlood[n.IP.String()]; ok && n.State == netlink.NUD_PERMANENT {
				haveFlood[n.IP.String()] = true
				continue
			}
			p.del = append(p.del, fdbEntry(index, n.HardwareAddr, n.IP))
			continue
		}
		k := n.HardwareAddr.String()
		if v, ok := wantMAC[k]; ok {
			haveMAC[k] = v.Equal(n.IP) && n.State == netlink.NUD_PERMANENT
			continue
		}
		p.del = append(p.del, fdbEntry(index, n.HardwareAddr, n.IP))
	}
	for _, r := range st.remotes {
		k := r.MAC.String()
		if ok, seen := haveMAC[k]; !(ok && seen) && wantMAC[k].Equal(r.VTEP) {
			p.set = append(p.set, fdbEntry(index, r.MAC, r.VTEP))
			haveMAC[k] = true
		}
	}
	for _, v := range st.flood {
		if !haveFlood[v.String()] {
			p.add = append(p.add, fdbEntry(index, zeroMAC, v))
			haveFlood[v.String()] = true
		}
	}
	return p
}

// planNeigh compares the dumped neighbour table of device index with st.
// Only permanent entries are ours to delete; wanted entries in any other
// state are replaced.
func planNeigh(index int, existing []netlink.Neigh, st remoteState) neighPlan {
	var p neighPlan
	want := map[string]net.HardwareAddr{}
	var order []net.IP
	for _, r := range st.remotes {
		if r.IP == nil {
			continue
		}
		k := r.IP.String()
		if mac, dup := want[k]; dup {
			if mac.String() != r.MAC.String() {
				p.conflicts = append(p.conflicts, fmt.Sprintf("IP %s at MACs %s and %s", k, mac, r.MAC))
			}
			continue
		}
		want[k] = r.MAC
		order = append(order, r.IP)
	}
	ok := map[string]bool{}
	for _, n := range existing {
		if n.LinkIndex != index || n.IP == nil {
			continue
		}
		k := n.IP.String()
		if mac, wanted := want[k]; wanted {
			ok[k] = mac.String() == n.HardwareAddr.String() && n.State == netlink.NUD_PERMANENT
			continue
		}
		if n.State != netlink.NUD_PERMANENT {
			continue // the kernel's own (e.g. IPv6 multicast) entries
		}
		p.del = append(p.del, neighEntry(index, n.IP, n.HardwareAddr))
	}
	for _, ip := range order {
		if !ok[ip.String()] {
			p.set = append(p.set, neighEntry(index, ip, want[ip.String()]))
		}
	}
	return p
}
