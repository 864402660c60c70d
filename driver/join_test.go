package driver

import (
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/docker/go-plugins-helpers/network"

	"github.com/weavego/weavego/pluginapi"
)

// fakeSandboxes plays Docker's part: the route a Join returns is put into
// the sandbox, and it goes with the interface of the endpoint that brought it.
type fakeSandboxes struct {
	broken bool              // every lookup fails, as when the plugin cannot see the namespaces
	holder map[string]string // sandbox key -> endpoint whose interface carries the route
}

func (f *fakeSandboxes) HasRoute(key string, dst netip.Addr) (bool, error) {
	if f.broken {
		return false, errors.New("open sandbox: no such file or directory")
	}
	if dst != netip.MustParseAddr("169.254.53.53") {
		return false, errors.New("asked for the wrong address")
	}
	_, ok := f.holder[key]
	return ok, nil
}

func newJoinDriver(t *testing.T, dnsAddr string, sb *fakeSandboxes) *Driver {
	t.Helper()
	cfg := Config{VTEP: netip.MustParseAddr("192.0.2.1"), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if dnsAddr != "" {
		cfg.DNSAddr = netip.MustParseAddr(dnsAddr)
	}
	if sb != nil {
		cfg.Sandboxes = sb
	}
	d, err := New(cfg, newFakeDP(), &memStore{data: map[string]map[string][]byte{}}, &fakeReconciler{})
	if err != nil {
		t.Fatal(err)
	}
	for i, pool := range []string{"10.32.0.0/24", "10.32.1.0/24", "10.32.2.0/24"} {
		id := "n" + string(rune('1'+i))
		if err := d.CreateNetwork(createReq(id, pool, nil)); err != nil {
			t.Fatal(err)
		}
	}
	for _, ep := range []struct{ id, net, addr string }{
		{"e1", "n1", "10.32.0.5/24"}, {"e2", "n2", "10.32.1.5/24"}, {"e3", "n3", "10.32.2.5/24"}, {"e4", "n1", "10.32.0.6/24"},
	} {
		if _, err := d.CreateEndpoint(&network.CreateEndpointRequest{NetworkID: ep.net, EndpointID: ep.id,
			Interface: &network.EndpointInterface{Address: ep.addr}}); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func TestJoinServiceRoute(t *testing.T) {
	type step struct {
		leave     bool
		ep, net   string
		sandbox   string
		wantRoute string // next hop of the route to 169.254.53.53/32, "" for none
	}
	// Container A joins n1 and n2 (one route), container B joins n1 (its own
	// route), A leaves n1 (the route goes) and joins n3 (a route again).
	steps := []step{
		{ep: "e1", net: "n1", sandbox: "A", wantRoute: "10.32.0.1"},
		{ep: "e2", net: "n2", sandbox: "A"},
		{ep: "e4", net: "n1", sandbox: "B", wantRoute: "10.32.0.1"},
		{leave: true, ep: "e1", net: "n1", sandbox: "A"},
		{ep: "e3", net: "n3", sandbox: "A", wantRoute: "10.32.2.1"},
	}
	tests := []struct {
		name    string
		dnsAddr string
		sb      *fakeSandboxes
		off     bool // no routes at all
	}{
		{name: "sandbox looked into", dnsAddr: "169.254.53.53", sb: &fakeSandboxes{}},
		{name: "sandbox not visible: driver records", dnsAddr: "169.254.53.53", sb: &fakeSandboxes{broken: true}},
		{name: "no sandbox checker", dnsAddr: "169.254.53.53"},
		{name: "DNS_ADDR off", off: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newJoinDriver(t, tt.dnsAddr, tt.sb)
			holder := map[string]string{}
			if tt.sb != nil {
				tt.sb.holder = holder
			}
			for i, st := range steps {
				if st.leave {
					if err := d.Leave(&network.LeaveRequest{NetworkID: st.net, EndpointID: st.ep}); err != nil {
						t.Fatal(err)
					}
					if holder[st.sandbox] == st.ep {
						delete(holder, st.sandbox)
					}
					continue
				}
				resp, err := d.Join(&network.JoinRequest{NetworkID: st.net, EndpointID: st.ep, SandboxKey: st.sandbox})
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				want := st.wantRoute
				if tt.off {
					want = ""
				}
				checkServiceRoute(t, i, resp, want)
				if len(resp.StaticRoutes) > 0 {
					if _, dup := holder[st.sandbox]; dup {
						t.Fatalf("step %d: Docker would fail this Join with \"file exists\"", i)
					}
					holder[st.sandbox] = st.ep
				}
			}
		})
	}
}

func checkServiceRoute(t *testing.T, step int, resp *pluginapi.JoinResponse, nextHop string) {
	t.Helper()
	if nextHop == "" {
		if len(resp.StaticRoutes) != 0 {
			t.Errorf("step %d: routes %+v, want none", step, resp.StaticRoutes[0])
		}
		return
	}
	want := network.StaticRoute{Destination: "169.254.53.53/32", RouteType: 0, NextHop: nextHop}
	if len(resp.StaticRoutes) != 1 || *resp.StaticRoutes[0] != want {
		t.Errorf("step %d: routes %v, want %+v", step, resp.StaticRoutes, want)
	}
}

func TestServiceAddrOnNetworks(t *testing.T) {
	d := newJoinDriver(t, "169.254.53.53", nil)
	kn := d.dp.(*fakeDP).networks["n1"]
	if kn.ServiceAddr.String() != "169.254.53.53" {
		t.Errorf("kernel network service address %v", kn.ServiceAddr)
	}
	err := d.CreateNetwork(createReq("n9", "169.254.0.0/16", nil))
	if err == nil || !strings.Contains(err.Error(), "DNS_ADDR") {
		t.Errorf("subnet holding the service address: err = %v", err)
	}
}

// TestJoinServiceRoute6: with DNS_ADDR6 set, a Join on a network with an
// IPv6 gateway also routes DNS_ADDR6/128 via it, once per container; an
// IPv6-only network gives the IPv6 route alone; an IPv6 subnet holding
// DNS_ADDR6 is refused.
func TestJoinServiceRoute6(t *testing.T) {
	d := newJoinDriver(t, "169.254.53.53", nil) // no sandbox checker: the driver's records tell
	d.cfg.DNSAddr6 = netip.MustParseAddr("fd53::53")
	r6 := ipv6Req("n6", "fd00:1::/64")
	r6.IPv4Data[0].Pool, r6.IPv4Data[0].Gateway = "10.32.6.0/24", "10.32.6.1/24"
	for _, req := range []*network.CreateNetworkRequest{r6, ipv6OnlyReq("n7", "fd00:2::/64")} {
		if err := d.CreateNetwork(req); err != nil {
			t.Fatal(err)
		}
	}
	if kn := d.dp.(*fakeDP).networks["n7"]; kn.ServiceAddr6 != d.cfg.DNSAddr6 {
		t.Errorf("kernel network n7 has IPv6 service address %v", kn.ServiceAddr6)
	}
	for _, ep := range []struct{ id, net, v4, v6 string }{
		{"a6", "n6", "10.32.6.5/24", "fd00:1::5/64"}, {"a7", "n7", "", "fd00:2::5/64"}, {"b7", "n7", "", "fd00:2::6/64"},
	} {
		if _, err := d.CreateEndpoint(&network.CreateEndpointRequest{NetworkID: ep.net, EndpointID: ep.id,
			Interface: &network.EndpointInterface{Address: ep.v4, AddressIPv6: ep.v6}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, st := range []struct{ ep, net, sandbox, want string }{
		{"a6", "n6", "A", "169.254.53.53/32 via 10.32.6.1, fd53::53/128 via fd00:1::1"},
		{"a7", "n7", "A", ""},
		{"b7", "n7", "B", "fd53::53/128 via fd00:2::1"},
	} {
		resp, err := d.Join(&network.JoinRequest{NetworkID: st.net, EndpointID: st.ep, SandboxKey: st.sandbox})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range resp.StaticRoutes {
			got = append(got, r.Destination+" via "+r.NextHop)
		}
		if strings.Join(got, ", ") != st.want {
			t.Errorf("join of %s to %s: routes [%s], want [%s]", st.sandbox, st.net, strings.Join(got, ", "), st.want)
		}
	}
	if err := d.CreateNetwork(ipv6Req("n8", "fd53::/64")); err == nil || !strings.Contains(err.Error(), "DNS_ADDR6") {
		t.Errorf("IPv6 subnet holding DNS_ADDR6: err = %v", err)
	}
}
