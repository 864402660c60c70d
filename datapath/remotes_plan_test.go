package datapath

import (
	"net"
	"net/netip"
	"sort"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func mustMAC(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

func fdbNeigh(index int, mac, vtep string, flags, state int) netlink.Neigh {
	return netlink.Neigh{LinkIndex: index, Family: unix.AF_BRIDGE, Flags: flags, State: state,
		HardwareAddr: mustMAC(mac), IP: net.ParseIP(vtep)}
}

func planKeys(ns []*netlink.Neigh) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.HardwareAddr.String()+">"+n.IP.String())
	}
	sort.Strings(out)
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPlanFDB(t *testing.T) {
	const idx = 7
	self, perm := netlink.NTF_SELF, netlink.NUD_PERMANENT
	r1 := Remote{IP: netip.MustParseAddr("10.1.0.2"), MAC: mustMAC("02:00:00:00:00:01"), VTEP: netip.MustParseAddr("192.0.2.1")}
	r2 := Remote{IP: netip.MustParseAddr("10.1.0.3"), MAC: mustMAC("02:00:00:00:00:02"), VTEP: netip.MustParseAddr("192.0.2.2")}
	tests := []struct {
		name           string
		have           []netlink.Neigh
		st             remoteState
		set, add, dels []string
	}{
		{name: "empty to one", st: remoteState{remotes: []Remote{r1}, flood: []netip.Addr{r1.VTEP}},
			set: []string{"02:00:00:00:00:01>192.0.2.1"}, add: []string{"00:00:00:00:00:00>192.0.2.1"}},
		{name: "in sync", st: remoteState{remotes: []Remote{r1}, flood: []netip.Addr{r1.VTEP}},
			have: []netlink.Neigh{fdbNeigh(idx, "02:00:00:00:00:01", "192.0.2.1", self, perm), fdbNeigh(idx, "00:00:00:00:00:00", "192.0.2.1", self, perm)}},
		{name: "moved and stale", st: remoteState{remotes: []Remote{{MAC: r1.MAC, VTEP: r2.VTEP}}, flood: []netip.Addr{r2.VTEP}},
			have: []netlink.Neigh{
				fdbNeigh(idx, "02:00:00:00:00:01", "192.0.2.1", self, perm),
				fdbNeigh(idx, "02:00:00:00:00:09", "192.0.2.1", self, perm),
				fdbNeigh(idx, "00:00:00:00:00:00", "192.0.2.1", self, perm),
			},
			set:  []string{"02:00:00:00:00:01>192.0.2.2"},
			add:  []string{"00:00:00:00:00:00>192.0.2.2"},
			dels: []string{"00:00:00:00:00:00>192.0.2.1", "02:00:00:00:00:09>192.0.2.1"}},
		{name: "ignores bridge and other devices", st: remoteState{},
			have: []netlink.Neigh{
				fdbNeigh(idx, "02:00:00:00:00:01", "0.0.0.0", netlink.NTF_MASTER, perm),
				fdbNeigh(idx+1, "02:00:00:00:00:01", "192.0.2.1", self, perm),
			}},
		{name: "conflict keeps first", st: remoteState{remotes: []Remote{r1, {MAC: r1.MAC, VTEP: r2.VTEP}, r2}},
			set: []string{"02:00:00:00:00:01>192.0.2.1", "02:00:00:00:00:02>192.0.2.2"}},
	}
	for _, tc := range tests {
		p := planFDB(idx, tc.have, tc.st)
		for _, c := range []struct {
			what      string
			got, want []string
		}{{"set", planKeys(p.set), tc.set}, {"add", planKeys(p.add), tc.add}, {"del", planKeys(p.del), tc.dels}} {
			if !equalStrings(c.got, c.want) {
				t.Errorf("%s: %s = %v, want %v", tc.name, c.what, c.got, c.want)
			}
		}
	}
}

func TestPlanNeigh(t *testing.T) {
	const idx = 7
	perm := netlink.NUD_PERMANENT
	n := func(ip, mac string, state int) netlink.Neigh {
		return netlink.Neigh{LinkIndex: idx, Family: unix.AF_INET, State: state, IP: net.ParseIP(ip), HardwareAddr: mustMAC(mac)}
	}
	r1 := Remote{IP: netip.MustParseAddr("10.1.0.2"), MAC: mustMAC("02:00:00:00:00:01"), VTEP: netip.MustParseAddr("192.0.2.1")}
	tests := []struct {
		name      string
		have      []netlink.Neigh
		st        remoteState
		set, dels []string
	}{
		{name: "add", st: remoteState{remotes: []Remote{r1}}, set: []string{"02:00:00:00:00:01>10.1.0.2"}},
		{name: "in sync", st: remoteState{remotes: []Remote{r1}}, have: []netlink.Neigh{n("10.1.0.2", "02:00:00:00:00:01", perm)}},
		{name: "wrong mac and state", st: remoteState{remotes: []Remote{r1}},
			have: []netlink.Neigh{n("10.1.0.2", "02:00:00:00:00:05", perm)}, set: []string{"02:00:00:00:00:01>10.1.0.2"}},
		{name: "reachable is replaced", st: remoteState{remotes: []Remote{r1}},
			have: []netlink.Neigh{n("10.1.0.2", "02:00:00:00:00:01", netlink.NUD_REACHABLE)}, set: []string{"02:00:00:00:00:01>10.1.0.2"}},
		{name: "stale permanent deleted, kernel's kept", st: remoteState{},
			have: []netlink.Neigh{n("10.1.0.9", "02:00:00:00:00:09", perm), n("10.1.0.8", "02:00:00:00:00:08", netlink.NUD_NOARP)},
			dels: []string{"02:00:00:00:00:09>10.1.0.9"}},
		{name: "remote without IP", st: remoteState{remotes: []Remote{{MAC: r1.MAC, VTEP: r1.VTEP}}}},
	}
	for _, tc := range tests {
		p := planNeigh(idx, tc.have, tc.st)
		if got := planKeys(p.set); !equalStrings(got, tc.set) {
			t.Errorf("%s: set = %v, want %v", tc.name, got, tc.set)
		}
		if got := planKeys(p.del); !equalStrings(got, tc.dels) {
			t.Errorf("%s: del = %v, want %v", tc.name, got, tc.dels)
		}
	}
}
