package dnsd

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/weavego/weavego/internal/nsrun"
)

// dualNet is a dual-stack network: IPv4 10.60.0.0/24 and IPv6 fd60::/64.
func dualNet(ns string, internal bool) Served {
	return Served{Network: "dual", VNI: 60, NetNS: ns, Internal: internal,
		Subnet: netip.MustParsePrefix("10.60.0.0/24"), Gateway: netip.MustParseAddr("10.60.0.1"),
		Subnet6: netip.MustParsePrefix("fd60::/64"), Gateway6: netip.MustParseAddr("fd60::1")}
}

// dualTable: web has both families on the dual-stack network; the client
// sandbox is a member with both of its addresses.
func dualTable(t *testing.T) *Table {
	t.Helper()
	tab := NewTable()
	if err := tab.Replace([]Record{
		{Name: "web", IP: netip.MustParseAddr("10.60.0.2"), Network: "dual", VNI: 60, Container: "web"},
		{Name: "web", IP: netip.MustParseAddr("fd60::2"), Network: "dual", VNI: 60, Container: "web"},
	}, []Member{
		{Owner: "client", VNI: 60, IP: netip.MustParseAddr("10.60.0.9")},
		{Owner: "client", VNI: 60, IP: netip.MustParseAddr("fd60::9")},
	}); err != nil {
		t.Fatal(err)
	}
	return tab
}

// TestIPv6Clients: an address of a network's IPv6 subnet is a client of
// that network exactly as one of its IPv4 subnet: the same names, the same
// budgets (one key for both families), REFUSED for everything forwarded on
// an --internal network; an IPv6 address outside every subnet is a stranger.
func TestIPv6Clients(t *testing.T) {
	up := startUpstream(t, dns.RcodeSuccess)
	for _, internal := range []bool{false, true} {
		h, err := NewHandler(Config{Upstreams: []string{up.addr}}, dualTable(t))
		if err != nil {
			t.Fatal(err)
		}
		h.setServed([]Served{dualNet("", internal)})
		for _, tc := range []struct {
			from, qname string
			qtype       uint16
			rcode       int
			answers     string
		}{
			{"fd60::9", "web.", dns.TypeAAAA, dns.RcodeSuccess, "AAAA fd60::2"},
			{"fd60::9", "web.", dns.TypeA, dns.RcodeSuccess, "A 10.60.0.2"},
			{"fd60::9", "example.com.", dns.TypeA, map[bool]int{false: dns.RcodeSuccess, true: dns.RcodeRefused}[internal],
				map[bool]string{false: "A 192.0.2.1", true: ""}[internal]},
			{"fd61::9", "web.", dns.TypeAAAA, dns.RcodeRefused, ""},
			{"fd61::9", "example.com.", dns.TypeA, dns.RcodeRefused, ""},
		} {
			r := askFrom(t, h, query(tc.qname, tc.qtype), false, tc.from)
			if r == nil || r.Rcode != tc.rcode || joined(rdatas(r.Answer)) != tc.answers {
				t.Errorf("internal=%v: %s %s from %s: %v; want %s [%s]", internal, dns.TypeToString[tc.qtype],
					tc.qname, tc.from, r, dns.RcodeToString[tc.rcode], tc.answers)
			}
		}
		idx := h.table.load()
		n := &h.served.Load().nets[0]
		c4, ok4 := n.client(netip.MustParseAddr("10.60.0.9"), idx)
		c6, ok6 := n.client(netip.MustParseAddr("fd60::9"), idx)
		if !ok4 || !ok6 || c4.network != c6.network || c4.share != c6.share || len(c6.scope) != 1 {
			t.Errorf("clients %+v %v and %+v %v; want one network budget and share for both families", c4, ok4, c6, ok6)
		}
	}
}

// TestIPv6OnlyServed: a network with an IPv6 subnet alone is served, keyed
// by that subnet, and keeps its share across snapshots.
func TestIPv6OnlyServed(t *testing.T) {
	only6 := Served{Network: "v6", VNI: 7, Subnet6: netip.MustParsePrefix("fd70::/64"), Gateway6: netip.MustParseAddr("fd70::1")}
	s1 := newServedSet([]Served{only6}, nil, 100)
	s2 := newServedSet([]Served{only6}, s1, 100)
	if len(s1.nets) != 1 || s1.nets[0].key() != netip.MustParseAddr("fd70::") || s2.nets[0].share != s1.nets[0].share {
		t.Errorf("IPv6-only network served as %+v then %+v", s1.nets, s2.nets)
	}
}

// TestListenOnIPv6Gateway: a dual-stack network's dnsd listens on its IPv6
// gateway and on the IPv6 service address in its namespace, over UDP and
// TCP, and answers its IPv6 clients (AAAA and A alike) as it does at the
// IPv4 gateway; an IPv6 source of no served subnet is refused there.
func TestListenOnIPv6Gateway(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	ns := newNetNS(t, t.TempDir(), "dual")
	if err := nsrun.Do(ns, func() error {
		return addToLo([]string{"10.60.0.1/32", "fd60::1/128", "fd60::9/128", "fd61::9/128", "fd53::53/128"})
	}); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Port: 15355, ResolvConf: emptyResolvConf(t), ServiceAddr6: netip.MustParseAddr("fd53::53")}, dualTable(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.SetNetworks([]Served{dualNet(ns, false)}); err != nil {
		t.Fatal(err)
	}
	if got := joined(s.Addrs()); got != "10.60.0.1:15355, [fd53::53]:15355, [fd60::1]:15355" {
		t.Errorf("listening on [%s]; want both gateways and the IPv6 service address", got)
	}
	ask := func(proto, from string, qtype uint16) *dns.Msg {
		return askAt(t, ns, proto, from, "[fd60::1]:15355", qtype)
	}
	for _, proto := range []string{"udp", "tcp"} {
		if r := ask(proto, "fd60::9", dns.TypeAAAA); joined(rdatas(r.Answer)) != "AAAA fd60::2" {
			t.Errorf("AAAA over %s at the IPv6 gateway: %v", proto, r)
		}
		if r := ask(proto, "fd60::9", dns.TypeA); joined(rdatas(r.Answer)) != "A 10.60.0.2" {
			t.Errorf("A over %s at the IPv6 gateway: %v", proto, r)
		}
		if r := ask(proto, "fd61::9", dns.TypeAAAA); r.Rcode != dns.RcodeRefused || len(r.Answer) != 0 {
			t.Errorf("stranger over %s at the IPv6 gateway: %v; want REFUSED", proto, r)
		}
		if r := askAt(t, ns, proto, "fd60::9", "[fd53::53]:15355", dns.TypeAAAA); joined(rdatas(r.Answer)) != "AAAA fd60::2" {
			t.Errorf("AAAA over %s at the IPv6 service address: %v", proto, r)
		}
	}
	// Without its IPv6 gateway the network keeps only its IPv4 listener (the
	// IPv6 service address is reached via the IPv6 gateway).
	n := dualNet(ns, false)
	n.Gateway6 = netip.Addr{}
	if err := s.SetNetworks([]Served{n}); err != nil {
		t.Fatal(err)
	}
	if got := joined(s.Addrs()); got != "10.60.0.1:15355" {
		t.Errorf("after dropping the IPv6 gateway: listening on [%s]", got)
	}
}

// TestForwardToIPv6Upstream: an upstream at an IPv6 address (given as
// DNS_UPSTREAM is, bracketed with a port, alone or after an IPv4 one that
// does not answer) is asked over UDP and TCP, not skipped. (resolv.conf's
// IPv6 nameservers are parsed into the same form: TestServersFrom.)
func TestForwardToIPv6Upstream(t *testing.T) {
	if pc, err := net.ListenPacket("udp", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	} else {
		pc.Close()
	}
	up := startUpstreamOn(t, "::1", dns.RcodeSuccess)
	dead := startUpstream(t, dns.RcodeServerFailure)
	for _, ups := range [][]string{{up.addr}, {dead.addr, up.addr}} {
		for _, tcp := range []bool{false, true} {
			h := newTestHandler(t, Config{Upstreams: ups}) // a fresh cache
			if r := ask(t, h, query("example.com.", dns.TypeA), tcp); r == nil || joined(rdatas(r.Answer)) != "A 192.0.2.1" {
				t.Errorf("upstreams %v, tcp=%v: %v; want the IPv6 upstream's answer", ups, tcp, r)
			}
		}
	}
	if got := joined(up.transports()); got != "udp, tcp, udp, tcp" {
		t.Errorf("IPv6 upstream asked over [%s]", got)
	}
}

// askAt asks server for web. of qtype over proto from the address from, in
// the network namespace ns, and fails the test on error.
func askAt(t *testing.T, ns, proto, from, server string, qtype uint16) *dns.Msg {
	t.Helper()
	var resp *dns.Msg
	err := nsrun.Do(ns, func() (err error) {
		d := &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(from)}}
		if proto == "tcp" {
			d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
		}
		c := &dns.Client{Net: proto, Timeout: 2 * time.Second, Dialer: d}
		resp, _, err = c.Exchange(query("web.", qtype), server)
		return err
	})
	if err != nil {
		t.Fatalf("%s from %s to %s in %s: %v", proto, from, server, filepath.Base(ns), err)
	}
	return resp
}
