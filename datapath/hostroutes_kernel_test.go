package datapath

import (
	"net"
	"slices"
	"testing"

	"github.com/vishvananda/netlink"
)

func TestHostRoutes(t *testing.T) {
	tn := newTestNS(t)
	add := func(name, cidr string) netlink.Link {
		l := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}} // dummy devices may be missing
		if err := tn.h.LinkAdd(l); err != nil {
			t.Fatal(err)
		}
		addr, _ := netlink.ParseAddr(cidr)
		if err := tn.h.AddrAdd(l, addr); err != nil {
			t.Fatal(err)
		}
		if err := tn.h.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	uplink := add("eth9", "10.99.0.5/24")
	add(BridgePrefix+"test", "10.98.0.1/24")
	_, dst, _ := net.ParseCIDR("10.100.0.0/16")
	if err := tn.h.RouteAdd(&netlink.Route{LinkIndex: uplink.Attrs().Index, Dst: dst, Gw: net.ParseIP("10.99.0.1")}); err != nil {
		t.Fatal(err)
	}
	got, err := tn.m.HostRoutes()
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, r := range got {
		seen = append(seen, r.String())
	}
	for _, want := range []string{"address 10.99.0.0/24 on eth9", "route 10.100.0.0/16 on eth9", "address 127.0.0.0/8 on lo"} {
		if !slices.Contains(seen, want) {
			t.Errorf("HostRoutes() = %q, missing %q", seen, want)
		}
	}
	for _, s := range seen {
		if s == "address 10.98.0.0/24 on "+BridgePrefix+"test" || s == "route 10.98.0.0/24 on "+BridgePrefix+"test" {
			t.Errorf("HostRoutes() lists weavego's own bridge: %q", s)
		}
	}
}
