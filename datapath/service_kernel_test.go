package datapath

import (
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/weavego/weavego/internal/ipconv"
)

// bridgeAddrStrings lists the IPv4 addresses of n's bridge, sorted.
func bridgeAddrStrings(t *testing.T, tn *testNS, n Network) []string {
	t.Helper()
	return bridgeAddrsOf(t, tn, n, netlink.FAMILY_V4)
}

// bridgeGlobal6 lists the IPv6 addresses of n's bridge but its link-local
// one, sorted.
func bridgeGlobal6(t *testing.T, tn *testNS, n Network) []string {
	t.Helper()
	return bridgeAddrsOf(t, tn, n, netlink.FAMILY_V6)
}

// bridgeAddrsOf lists the addresses of family of n's bridge, sorted; the
// kernel's IPv6 link-local one left out.
func bridgeAddrsOf(t *testing.T, tn *testNS, n Network, family int) []string {
	t.Helper()
	nn := tn.net(t, n.ID)
	addrs, err := nn.h.AddrList(nn.link(t, BridgeName(n.ID)), family)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range addrs {
		if family == netlink.FAMILY_V4 || !a.IP.IsLinkLocalUnicast() {
			out = append(out, a.IPNet.String())
		}
	}
	slices.Sort(out)
	return out
}

func TestServiceAddrOnBridges(t *testing.T) {
	tn := newTestNS(t)
	svc := netip.MustParseAddr("169.254.53.53")
	n1 := testNetwork("svc1abcdefghij", 0, "")
	n1.ServiceAddr = svc
	gw2, subnet2 := mustPrefix("10.21.0.1/24")
	n2 := Network{ID: "svc2abcdefghij", Subnet: subnet2, Gateway: gw2, ServiceAddr: svc}
	steps := []struct {
		name string
		n    Network
		want []string
	}{
		{"first network", n1, []string{"10.20.0.1/24", "169.254.53.53/32"}},
		{"second network, same address", n2, []string{"10.21.0.1/24", "169.254.53.53/32"}},
		{"again: idempotent", n1, []string{"10.20.0.1/24", "169.254.53.53/32"}},
	}
	for _, st := range steps {
		if _, err := tn.m.EnsureNetwork(st.n); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := bridgeAddrStrings(t, tn, st.n); !slices.Equal(got, st.want) {
			t.Errorf("%s: bridge addresses %v, want %v", st.name, got, st.want)
		}
	}
	// Removing one network leaves the address local in the other's namespace.
	if err := tn.m.DeleteNetwork(n1.ID); err != nil {
		t.Fatal(err)
	}
	routes, err := tn.net(t, n2.ID).h.RouteGet(ipconv.IP(svc))
	if err != nil || len(routes) == 0 || routes[0].Type != 2 /* RTN_LOCAL */ {
		t.Errorf("after removing one bridge, route to %s = %v, %v; want local", svc, routes, err)
	}
	// A changed setting moves the address; off removes it.
	n2.ServiceAddr = netip.MustParseAddr("169.254.0.53")
	if _, err := tn.m.EnsureNetwork(n2); err != nil {
		t.Fatal(err)
	}
	if got := bridgeAddrStrings(t, tn, n2); !slices.Equal(got, []string{"10.21.0.1/24", "169.254.0.53/32"}) {
		t.Errorf("after change: %v", got)
	}
	n2.ServiceAddr = netip.Addr{}
	if _, err := tn.m.EnsureNetwork(n2); err != nil {
		t.Fatal(err)
	}
	if got := bridgeAddrStrings(t, tn, n2); !slices.Equal(got, []string{"10.21.0.1/24"}) {
		t.Errorf("after off: %v", got)
	}
	n2.ServiceAddr = netip.MustParseAddr("10.21.0.53")
	if _, err := tn.m.EnsureNetwork(n2); err == nil {
		t.Error("a service address inside the subnet was accepted")
	}
}

// TestSandboxHasRoute: the route to the service address (/32) and to the
// IPv6 one (/128) is found once it is there, and only for that address.
func TestSandboxHasRoute(t *testing.T) {
	tn := newTestNS(t)
	path := filepath.Join("/var/run/netns", tn.name)
	attrs := netlink.NewLinkAttrs()
	attrs.Name = "eth0"
	// A bridge stands in for the container's interface: this kernel may lack dummy links.
	if err := tn.h.LinkAdd(&netlink.Bridge{LinkAttrs: attrs}); err != nil {
		t.Fatal(err)
	}
	eth := tn.link(t, "eth0")
	if err := tn.h.LinkSetUp(eth); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ addr, gw, svc, other string }{
		{"10.20.0.5/24", "10.20.0.1", "169.254.53.53", "169.254.53.54"},
		{"fd20::5/64", "fd20::1", "fd53::53", "fd53::54"},
	} {
		svc := netip.MustParseAddr(c.svc)
		if has, err := (Sandboxes{}).HasRoute(path, svc); err != nil || has {
			t.Fatalf("no route to %s yet: HasRoute = %v, %v", svc, has, err)
		}
		ip, subnet := mustCIDR(c.addr)
		if err := tn.h.AddrAdd(eth, &netlink.Addr{IPNet: &net.IPNet{IP: ip, Mask: subnet.Mask}, Flags: unix.IFA_F_NODAD}); err != nil {
			t.Fatal(err)
		}
		route := &netlink.Route{Dst: &net.IPNet{IP: svc.AsSlice(), Mask: net.CIDRMask(svc.BitLen(), svc.BitLen())},
			Gw: net.ParseIP(c.gw)}
		if err := tn.h.RouteAdd(route); err != nil {
			t.Fatal(err)
		}
		if has, err := (Sandboxes{}).HasRoute(path, svc); err != nil || !has {
			t.Errorf("after adding the route to %s: HasRoute = %v, %v", svc, has, err)
		}
		if has, err := (Sandboxes{}).HasRoute(path, netip.MustParseAddr(c.other)); err != nil || has {
			t.Errorf("other address %s: HasRoute = %v, %v", c.other, has, err)
		}
	}
	if _, err := (Sandboxes{}).HasRoute(filepath.Join(t.TempDir(), "gone"), netip.MustParseAddr("169.254.53.53")); err == nil {
		t.Error("a missing sandbox gave no error")
	}
}

// TestServiceAddr6OnBridges: the IPv6 service address is a /128 on the
// bridge of a network with an IPv6 gateway (an IPv6-only one here), next to
// the gateway; off removes it; one inside the IPv6 subnet is refused.
func TestServiceAddr6OnBridges(t *testing.T) {
	tn := newTestNS(t)
	gw6, subnet6 := mustPrefix("fd21::1/64")
	n := Network{ID: "svc6abcdefghij", Subnet6: subnet6, Gateway6: gw6, ServiceAddr6: netip.MustParseAddr("fd53::53")}
	global6 := func() []string { return bridgeGlobal6(t, tn, n) }
	if _, err := tn.m.EnsureNetwork(n); err != nil {
		t.Fatal(err)
	}
	if got := global6(); !slices.Equal(got, []string{"fd21::1/64", "fd53::53/128"}) {
		t.Errorf("bridge IPv6 addresses %v", got)
	}
	n.ServiceAddr6 = netip.Addr{}
	if _, err := tn.m.EnsureNetwork(n); err != nil {
		t.Fatal(err)
	}
	if got := global6(); !slices.Equal(got, []string{"fd21::1/64"}) {
		t.Errorf("after off: %v", got)
	}
	n.ServiceAddr6 = netip.MustParseAddr("fd21::53")
	if _, err := tn.m.EnsureNetwork(n); err == nil {
		t.Error("an IPv6 service address inside the IPv6 subnet was accepted")
	}
}
