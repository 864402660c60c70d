//go:build linux

package e2e

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// dnsServiceAddr6 is the DNS_ADDR6 of TestIPv6's hosts: dnsd's IPv6 service address.
const dnsServiceAddr6 = "fd53::53"

// defaultRange6 is IPALLOC_RANGE6's default, where --ipv6 networks without an IPv6 --subnet get their /64.
var defaultRange6 = netip.MustParsePrefix("fd77:6561:7665::/48")

// ipv6Scenario is the fixture of TestIPv6: two meshed hosts and the dual-stack network net6 (no --subnet for
// either family), created on h1, with svc on h1 and client on h2.
type ipv6Scenario struct {
	top                *testing.T
	c                  *Cluster
	h1, h2             *Host
	gw4, gw6           string // net6's gateways, where dnsd answers
	subnet6            netip.Prefix
	svc4, svc6, svcMAC string
}

// TestIPv6 drives dual-stack networks across two hosts: default and given pools of each family, containers that
// reach each other over IPv6 (ping and TCP) and IPv4 at once with the IPv6 neighbour entries programmed, AAAA and
// ip6.arpa PTR answers from dnsd at either gateway, --ip6 with the clash rules of --ip, and --internal. On engine 29,
// IPv6-only networks (--ipv4=false) as well: see ipv6only_test.go.
func TestIPv6(t *testing.T) {
	RequirePlugin(t)
	c := NewCluster(t, ClusterOptions{Hosts: 2, Mesh: 2, Env: map[string]string{"DNS_ADDR6": dnsServiceAddr6}})
	s := &ipv6Scenario{top: t, c: c, h1: c.Host(0), h2: c.Host(1)}
	runSteps(t, []step{
		{"DefaultPools", s.defaultPools},
		{"Connectivity", s.connectivity},
		{"NeighbourEntries", s.neighbourEntries},
		{"Names", s.names},
		{"GivenSubnets", s.givenSubnets},
		{"OneFamilyGiven", s.oneFamilyGiven},
		{"Internal", s.internal},
		{"IPv6Only", s.ipv6Only},
	}, "DefaultPools", "Connectivity")
}

// ipamOf returns the IPv4 and IPv6 pools of network name on h.
func ipamOf(t *testing.T, h *Host, name string) (v4, v6 ipamConfig) {
	t.Helper()
	for _, cfg := range inspectIPAM(t, h, name) {
		p, err := netip.ParsePrefix(cfg.Subnet)
		switch {
		case err != nil:
			t.Fatalf("%s: network %s has subnet %q", h.Name, name, cfg.Subnet)
		case p.Addr().Is4():
			v4 = cfg
		default:
			v6 = cfg
		}
	}
	if v4.Subnet == "" || v6.Subnet == "" {
		t.Fatalf("%s: network %s has pools %+v %+v, want one of each family", h.Name, name, v4, v6)
	}
	// Docker 20.10 shows an IPv6 gateway that the IPAM driver supplied with its prefix length, and one given
	// in the create request (as on the hosts that create the network from the cluster definition) without.
	v6.Gateway, _, _ = strings.Cut(v6.Gateway, "/")
	return v4, v6
}

// ipv6Of returns container ctr's IPv6 address on network, as Docker reports it.
func ipv6Of(t *testing.T, h *Host, ctr, network string) string {
	t.Helper()
	ip := h.MustDocker(t, "inspect", "--format",
		fmt.Sprintf(`{{with index .NetworkSettings.Networks %q}}{{.GlobalIPv6Address}}{{end}}`, network), ctr)
	if _, err := netip.ParseAddr(ip); err != nil {
		t.Fatalf("%s: container %s has IPv6 address %q on %s", h.Name, ctr, ip, network)
	}
	return ip
}

// createOn creates network name with args on h, removed at the end of the test, and waits until the other
// host has it with the same pools.
func (s *ipv6Scenario) createOn(t *testing.T, h *Host, name string, args ...string) (v4, v6 ipamConfig) {
	t.Helper()
	createNetworkFor(t, s.top, h, name, append(append([]string{}, netArgs...), args...)...)
	v4, v6 = ipamOf(t, h, name)
	for _, o := range []*Host{s.h1, s.h2} {
		if o == h {
			continue
		}
		waitNetwork(t, name, o)
		o4, o6 := ipamOf(t, o, name)
		// Docker 20.10 shows no gateway for a pool created with --subnet and no --gateway, where the IPAM
		// driver chose it; the other hosts, which create the network with the gateway, show it.
		if o4.Subnet != v4.Subnet || o6.Subnet != v6.Subnet || o6.Gateway != v6.Gateway && v6.Gateway != "" {
			t.Fatalf("%s has %s as %+v %+v, %s as %+v %+v", o.Name, name, o4, o6, h.Name, v4, v6)
		}
	}
	return v4, v6
}

func (s *ipv6Scenario) defaultPools(t *testing.T) {
	v4, v6 := s.createOn(t, s.h1, "net6", "--ipv6")
	s.gw4, s.gw6 = v4.Gateway, v6.Gateway
	s.subnet6 = netip.MustParsePrefix(v6.Subnet)
	if s.subnet6.Bits() != 64 || !defaultRange6.Contains(s.subnet6.Addr()) {
		t.Fatalf("net6 got IPv6 subnet %s, want a /64 of %s", s.subnet6, defaultRange6)
	}
	t.Logf("net6: IPv4 %s (gateway %s), IPv6 %s (gateway %s)", v4.Subnet, v4.Gateway, v6.Subnet, v6.Gateway)
}

func (s *ipv6Scenario) connectivity(t *testing.T) {
	runFor(t, s.top, s.h1, "--name", "svc", "--network", "net6", "-e", "NAME=svc", HTTPImage)
	runFor(t, s.top, s.h2, "--name", "client", "--network", "net6", BusyboxImage, "sleep", "3600")
	var err error
	if s.svc4, err = s.h1.ContainerIP("svc", "net6"); err != nil {
		t.Fatal(err)
	}
	s.svc6 = ipv6Of(t, s.h1, "svc", "net6")
	client6 := ipv6Of(t, s.h2, "client", "net6")
	if !s.subnet6.Contains(netip.MustParseAddr(s.svc6)) || s.svc6 == client6 {
		t.Fatalf("svc has %s and client %s in %s", s.svc6, client6, s.subnet6)
	}
	if s.svcMAC, err = s.h1.ContainerMAC("svc", s.svc4); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	Eventually(t, time.Minute, func() error {
		return fetch(s.h2, "client", fmt.Sprintf("http://[%s]:8080/", s.svc6), "Hi! I'm svc service")
	})
	t.Logf("HTTP over IPv6 from client (h2) to svc (h1) answered after %s", time.Since(start).Round(time.Millisecond))
	if err := fetch(s.h2, "client", fmt.Sprintf("http://%s:8080/", s.svc4), hello("svc", s.svc4)); err != nil {
		t.Error(err)
	}
	for _, ip := range []string{s.svc6, s.svc4} {
		out, err := execIn(s.h2, "client", "ping", "-c", "3", "-W", "2", ip)
		if err != nil || !strings.Contains(out, " 0% packet loss") {
			t.Errorf("ping %s from client on h2: %q, %v", ip, out, err)
		}
	}
	out, err := execIn(s.h1, "svc", "ping", "-c", "2", "-W", "2", client6)
	if err != nil || !strings.Contains(out, " 0% packet loss") {
		t.Errorf("ping %s (client) from svc on h1: %q, %v", client6, out, err)
	}
}

// neighbourEntries: h2's VXLAN device of net6 has a permanent neighbour entry for svc's IPv6 address (as for its
// IPv4 one) and an FDB entry for its MAC towards h1, so nothing is learnt by flooding.
func (s *ipv6Scenario) neighbourEntries(t *testing.T) {
	Eventually(t, 30*time.Second, func() error {
		dev, err := s.h2.VXLANDevice("net6")
		if err != nil {
			return err
		}
		out, err := s.h2.ExecDev(dev, "ip", "-6", "neigh", "show", "dev", dev)
		if err != nil {
			return err
		}
		if !strings.Contains(out, s.svc6+" lladdr "+s.svcMAC) || !strings.Contains(out, "PERMANENT") {
			return fmt.Errorf("h2 %s: no permanent neighbour %s lladdr %s: %q", dev, s.svc6, s.svcMAC, out)
		}
		fdb, err := s.h2.FDB(dev)
		if err != nil {
			return err
		}
		if len(fdb[s.svcMAC]) != 1 || fdb[s.svcMAC][0] != s.h1.IP.String() {
			return fmt.Errorf("h2 %s: FDB entries of %s are %v, want one to %s", dev, s.svcMAC, fdb[s.svcMAC], s.h1.IP)
		}
		return nil
	})
}

// names: dnsd, asked at net6's IPv4 and IPv6 gateways and at the IPv6 service address (DNS_ADDR6) from the client
// on h2, answers svc (on h1) with its IPv4 and IPv6 addresses and its IPv6 address back to the name under
// ip6.arpa; both hosts listen at all three.
func (s *ipv6Scenario) names(t *testing.T) {
	for _, h := range []*Host{s.h1, s.h2} {
		listen := strings.Join(mustStatus(t, h).DNS.Listen, " ")
		for _, want := range []string{s.gw4 + ":53", "[" + s.gw6 + "]:53", "[" + dnsServiceAddr6 + "]:53"} {
			if !strings.Contains(listen, want) {
				t.Errorf("%s: dnsd listens on %s; want %s among them", h.Name, listen, want)
			}
		}
	}
	for _, gw := range []string{s.gw4, s.gw6, dnsServiceAddr6} {
		t.Logf("asking dnsd at %s", gw)
		s.namesAt(t, newDNSClient(t, s.h2, "client", gw))
	}
}

func (s *ipv6Scenario) namesAt(t *testing.T, cl *dnsClient) {
	Eventually(t, 30*time.Second, func() error {
		for _, q := range []struct {
			name  string
			qtype uint16
			want  string
		}{
			{"svc.weavego.local", dns.TypeAAAA, s.svc6},
			{"svc", dns.TypeAAAA, s.svc6},
			{"svc", dns.TypeA, s.svc4},
			{mustReverse(t, s.svc6), dns.TypePTR, "svc.weavego.local."},
		} {
			r, err := cl.Query(q.name, q.qtype)
			if err != nil {
				return err
			}
			if !answers(r, q.want) {
				return fmt.Errorf("%s %s: answer %v, want %s", dns.TypeToString[q.qtype], q.name, r.Answer, q.want)
			}
		}
		return nil
	})
}

func mustReverse(t *testing.T, ip string) string {
	t.Helper()
	name, err := dns.ReverseAddr(ip)
	if err != nil {
		t.Fatal(err)
	}
	return name
}

// answers tells whether r has an A, AAAA or PTR record saying want.
func answers(r *dns.Msg, want string) bool {
	for _, rr := range r.Answer {
		switch v := rr.(type) {
		case *dns.A:
			if v.A.String() == want {
				return true
			}
		case *dns.AAAA:
			if v.AAAA.String() == want {
				return true
			}
		case *dns.PTR:
			if v.Ptr == want {
				return true
			}
		}
	}
	return false
}

// givenSubnets: --subnet for both families, and --ip6 with the clash rules of --ip: an address a container holds
// on h1 is refused on h2, naming the host that holds it.
func (s *ipv6Scenario) givenSubnets(t *testing.T) {
	s.createOn(t, s.h1, "net6b", "--ipv6", "--subnet", "10.77.0.0/24", "--subnet", "fd00:77::/64")
	if v4, v6 := ipamOf(t, s.h2, "net6b"); v4.Subnet != "10.77.0.0/24" || v6.Subnet != "fd00:77::/64" || v6.Gateway != "fd00:77::1" {
		t.Fatalf("net6b has pools %+v %+v", v4, v6)
	}
	const fixed = "fd00:77::10"
	runFor(t, s.top, s.h1, "--name", "fixed", "--network", "net6b", "--ip6", fixed, BusyboxImage, "sleep", "3600")
	if got := ipv6Of(t, s.h1, "fixed", "net6b"); got != fixed {
		t.Fatalf("--ip6 %s gave %s", fixed, got)
	}
	t.Cleanup(func() { _, _ = s.h2.Docker("rm", "-f", "thief6") })
	_, err := s.h2.Docker("run", "-d", "--name", "thief6", "--network", "net6b", "--ip6", fixed, BusyboxImage, "sleep", "3600")
	if err == nil {
		t.Fatalf("h2 gave a container %s, which fixed on h1 holds", fixed)
	}
	readable(t, err.Error())
	if !strings.Contains(err.Error(), s.c.Peer[s.h1]) {
		t.Errorf("refusal does not name the host holding %s (%s, h1): %v", fixed, s.c.Peer[s.h1], err)
	}
	t.Logf("docker run --ip6 %s on h2 refused: %v", fixed, err)
	runFor(t, s.top, s.h2, "--name", "other6", "--network", "net6b", BusyboxImage, "sleep", "3600")
	Eventually(t, 30*time.Second, func() error {
		out, err := execIn(s.h2, "other6", "ping", "-c", "2", "-W", "2", fixed)
		if err != nil || !strings.Contains(out, " 0% packet loss") {
			return fmt.Errorf("ping %s from h2 on net6b: %q, %v", fixed, out, err)
		}
		return nil
	})
}

// oneFamilyGiven: --subnet of one family takes the other family's pool from weavego's defaults.
func (s *ipv6Scenario) oneFamilyGiven(t *testing.T) {
	v4, v6 := s.createOn(t, s.h2, "net6c", "--ipv6", "--subnet", "fd00:78::/64")
	if v6.Subnet != "fd00:78::/64" || !netip.MustParsePrefix("10.32.0.0/12").Contains(netip.MustParsePrefix(v4.Subnet).Addr()) {
		t.Errorf("net6c (IPv6 subnet given) has pools %+v %+v", v4, v6)
	}
	v4, v6 = s.createOn(t, s.h2, "net6d", "--ipv6", "--subnet", "10.79.0.0/24")
	p6 := netip.MustParsePrefix(v6.Subnet)
	if v4.Subnet != "10.79.0.0/24" || p6.Bits() != 64 || !defaultRange6.Contains(p6.Addr()) || p6 == s.subnet6 {
		t.Errorf("net6d (IPv4 subnet given) has pools %+v %+v; net6 has %s", v4, v6, s.subnet6)
	}
}

// internal: containers of an --internal --ipv6 network reach each other across hosts over IPv6, get no IPv6
// default route, and reach no address of another network.
func (s *ipv6Scenario) internal(t *testing.T) {
	s.createOn(t, s.h1, "net6i", "--ipv6", "--internal")
	runFor(t, s.top, s.h1, "--name", "isvc", "--network", "net6i", BusyboxImage, "sleep", "3600")
	runFor(t, s.top, s.h2, "--name", "iclient", "--network", "net6i", BusyboxImage, "sleep", "3600")
	isvc6 := ipv6Of(t, s.h1, "isvc", "net6i")
	Eventually(t, 30*time.Second, func() error {
		out, err := execIn(s.h2, "iclient", "ping", "-c", "2", "-W", "2", isvc6)
		if err != nil || !strings.Contains(out, " 0% packet loss") {
			return fmt.Errorf("ping %s within net6i from h2: %q, %v", isvc6, out, err)
		}
		return nil
	})
	routes, err := execIn(s.h2, "iclient", "ip", "-6", "route", "show")
	if err != nil || strings.Contains(routes, "default") {
		t.Errorf("iclient on an --internal network has IPv6 routes %q, %v; want no default route", routes, err)
	}
	if out, err := execIn(s.h2, "iclient", "ping", "-c", "2", "-W", "1", s.svc6); err == nil && !strings.Contains(out, " 100% packet loss") {
		t.Errorf("iclient on net6i reached svc's %s on net6: %q", s.svc6, out)
	}
	if out, err := execIn(s.h2, "iclient", "timeout", "4", "wget", "-qO-", fmt.Sprintf("http://[%s]:8080/", s.svc6)); err == nil {
		t.Errorf("iclient on net6i fetched from svc's %s on net6: %q", s.svc6, out)
	}
	// dnsd at net6i's IPv6 gateway answers isvc, and forwards nothing out of an --internal network.
	_, v6 := ipamOf(t, s.h2, "net6i")
	cl := newDNSClient(t, s.h2, "iclient", v6.Gateway)
	Eventually(t, 30*time.Second, func() error {
		r, err := cl.Query("isvc", dns.TypeAAAA)
		if err != nil || !answers(r, isvc6) {
			return fmt.Errorf("AAAA isvc at [%s]:53 from iclient: %v, %v; want %s", v6.Gateway, r, err, isvc6)
		}
		return nil
	})
	if r, err := cl.Query("example.org", dns.TypeAAAA); err != nil || r.Rcode != dns.RcodeRefused {
		t.Errorf("AAAA example.org at [%s]:53 from iclient on an --internal network: %v, %v; want REFUSED", v6.Gateway, r, err)
	}
}
