package datapath

import (
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/weavego/weavego/internal/ipconv"
)

// bridgeAddrStrings lists the IPv4 addresses of n's bridge, sorted.
func bridgeAddrStrings(t *testing.T, tn *testNS, n Network) []string {
	t.Helper()
	nn := tn.net(t, n.ID)
	addrs, err := nn.h.AddrList(nn.link(t, BridgeName(n.ID)), netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range addrs {
		out = append(out, a.IPNet.String())
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

func TestSandboxHasRoute(t *testing.T) {
	tn := newTestNS(t)
	path := filepath.Join("/var/run/netns", tn.name)
	svc := netip.MustParseAddr("169.254.53.53")
	has, err := Sandboxes{}.HasRoute(path, svc)
	if err != nil || has {
		t.Fatalf("empty sandbox: HasRoute = %v, %v", has, err)
	}
	attrs := netlink.NewLinkAttrs()
	attrs.Name = "eth0"
	// A bridge stands in for the container's interface: this kernel may lack dummy links.
	if err := tn.h.LinkAdd(&netlink.Bridge{LinkAttrs: attrs}); err != nil {
		t.Fatal(err)
	}
	eth := tn.link(t, "eth0")
	ip, subnet := mustCIDR("10.20.0.5/24")
	if err := tn.h.AddrAdd(eth, &netlink.Addr{IPNet: &net.IPNet{IP: ip, Mask: subnet.Mask}}); err != nil {
		t.Fatal(err)
	}
	if err := tn.h.LinkSetUp(eth); err != nil {
		t.Fatal(err)
	}
	route := &netlink.Route{Dst: &net.IPNet{IP: svc.AsSlice(), Mask: net.CIDRMask(32, 32)}, Gw: net.ParseIP("10.20.0.1")}
	if err := tn.h.RouteAdd(route); err != nil {
		t.Fatal(err)
	}
	if has, err := (Sandboxes{}).HasRoute(path, svc); err != nil || !has {
		t.Errorf("after adding the route: HasRoute = %v, %v", has, err)
	}
	if has, err := (Sandboxes{}).HasRoute(path, netip.MustParseAddr("169.254.53.54")); err != nil || has {
		t.Errorf("other address: HasRoute = %v, %v", has, err)
	}
	if _, err := (Sandboxes{}).HasRoute(filepath.Join(t.TempDir(), "gone"), svc); err == nil {
		t.Error("a missing sandbox gave no error")
	}
}
