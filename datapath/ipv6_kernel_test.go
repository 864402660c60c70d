package datapath

import (
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// TestNetworkIPv6 checks the IPv6 side of a network: the IPv6 gateway on
// the bridge beside the kernel's link-local address, gone when the network
// loses IPv6; and IPv6 neighbour entries of remotes beside the IPv4 ones,
// with one FDB entry per MAC.
func TestNetworkIPv6(t *testing.T) {
	tn := newTestNS(t)
	tn.addUnderlay(t, 1500, "192.0.2.10/24")
	n := testNetwork("v6net", 60, "192.0.2.10")
	n.Subnet6, n.Gateway6 = netip.MustParsePrefix("fd00:1::/64"), netip.MustParseAddr("fd00:1::1")
	for range 2 {
		if _, err := tn.m.EnsureNetwork(n); err != nil {
			t.Fatal(err)
		}
	}
	nn := tn.net(t, n.ID)
	global6 := func() []string { return bridgeGlobal6(t, tn, n) }
	if got := global6(); len(got) != 1 || got[0] != "fd00:1::1/64" {
		t.Fatalf("bridge IPv6 addresses %v, want fd00:1::1/64", got)
	}
	checkBridge(t, nn, n, 1450) // the IPv4 gateway is untouched

	mac := mustMAC("02:aa:00:00:00:07")
	vtep := netip.MustParseAddr("192.0.2.20")
	remotes := []Remote{{IP: netip.MustParseAddr("10.20.0.7"), MAC: mac, VTEP: vtep}, {IP: netip.MustParseAddr("fd00:1::7"), MAC: mac, VTEP: vtep}}
	for range 2 {
		if err := tn.m.SetRemotes(n.ID, remotes, []netip.Addr{vtep}); err != nil {
			t.Fatal(err)
		}
	}
	vx := nn.link(t, VXLANName(n.ID))
	neighs, err := nn.h.NeighList(vx.Attrs().Index, unix.AF_INET6)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range neighs {
		if e.IP.String() == "fd00:1::7" {
			found = e.HardwareAddr.String() == mac.String() && e.State == netlink.NUD_PERMANENT
		}
	}
	if !found {
		t.Fatalf("no permanent IPv6 neighbour fd00:1::7 -> %s: %v", mac, neighs)
	}
	fdb, err := nn.h.NeighList(vx.Attrs().Index, unix.AF_BRIDGE)
	if err != nil {
		t.Fatal(err)
	}
	macs := 0
	for _, e := range fdb {
		if e.HardwareAddr.String() == mac.String() {
			macs++
		}
	}
	if macs != 1 {
		t.Fatalf("%d FDB entries for %s, want 1: %v", macs, mac, fdb)
	}

	n.Subnet6, n.Gateway6 = netip.Prefix{}, netip.Addr{}
	if _, err := tn.m.EnsureNetwork(n); err != nil {
		t.Fatal(err)
	}
	if got := global6(); len(got) != 0 {
		t.Fatalf("bridge keeps IPv6 addresses %v after the network lost IPv6", got)
	}
}
