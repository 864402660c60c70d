package datapath

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/weavego/weavego/internal/ipconv"
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
	wantMAC := map[string]netip.Addr{}
	for _, r := range st.remotes {
		k := r.MAC.String()
		if v, dup := wantMAC[k]; dup && v != r.VTEP {
			p.conflicts = append(p.conflicts, fmt.Sprintf("MAC %s at VTEPs %s and %s", k, v, r.VTEP))
			continue
		}
		wantMAC[k] = r.VTEP
	}
	wantFlood := map[netip.Addr]bool{}
	for _, v := range st.flood {
		wantFlood[v] = true
	}
	haveMAC := map[string]bool{}
	haveFlood := map[netip.Addr]bool{}
	for _, n := range existing {
		if !isOurFDB(n, index) {
			continue
		}
		vtep := ipconv.Addr(n.IP)
		if isZeroMAC(n.HardwareAddr) {
			if wantFlood[vtep] && n.State == netlink.NUD_PERMANENT {
				haveFlood[vtep] = true
				continue
			}
			p.del = append(p.del, fdbEntry(index, n.HardwareAddr, n.IP))
			continue
		}
		k := n.HardwareAddr.String()
		if v, ok := wantMAC[k]; ok {
			haveMAC[k] = v == vtep && n.State == netlink.NUD_PERMANENT
			continue
		}
		p.del = append(p.del, fdbEntry(index, n.HardwareAddr, n.IP))
	}
	for _, r := range st.remotes {
		k := r.MAC.String()
		if ok, seen := haveMAC[k]; !(ok && seen) && wantMAC[k] == r.VTEP {
			p.set = append(p.set, fdbEntry(index, r.MAC, ipconv.IP(r.VTEP)))
			haveMAC[k] = true
		}
	}
	for _, v := range st.flood {
		if !haveFlood[v] {
			p.add = append(p.add, fdbEntry(index, zeroMAC, ipconv.IP(v)))
			haveFlood[v] = true
		}
	}
	return p
}

// planNeigh compares the dumped neighbour table of device index with st.
// Only permanent entries are ours to delete; wanted entries in any other
// state are replaced.
func planNeigh(index int, existing []netlink.Neigh, st remoteState) neighPlan {
	var p neighPlan
	want := map[netip.Addr]net.HardwareAddr{}
	var order []netip.Addr
	for _, r := range st.remotes {
		if !r.IP.IsValid() {
			continue
		}
		k := r.IP.Unmap()
		if mac, dup := want[k]; dup {
			if mac.String() != r.neighMAC().String() {
				p.conflicts = append(p.conflicts, fmt.Sprintf("IP %s at MACs %s and %s", k, mac, r.neighMAC()))
			}
			continue
		}
		want[k] = r.neighMAC()
		order = append(order, k)
	}
	ok := map[netip.Addr]bool{}
	for _, n := range existing {
		if n.LinkIndex != index || n.IP == nil {
			continue
		}
		k := ipconv.Addr(n.IP)
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
		if !ok[ip] {
			p.set = append(p.set, neighEntry(index, ipconv.IP(ip), want[ip]))
		}
	}
	return p
}
