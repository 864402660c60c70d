package dnsd

import (
	"testing"

	"github.com/miekg/dns"
)

// On an --internal network nothing is forwarded: a name sent upstream is a
// way out of a network that has none. The network's own names still answer,
// and a network that is not internal still forwards.
func TestInternalNetworkDoesNotForward(t *testing.T) {
	up := startUpstream(t, dns.RcodeSuccess)
	h := newHandlerWith(t, Config{Upstreams: []string{up.addr}}, scopeRecords(), scopeMembers())
	nets := testNets()
	nets[1].Internal = true // net2, 10.32.1.0/24
	h.setServed(nets)
	cases := []struct {
		from, name string
		qtype      uint16
		rcode      int
		answer     string
	}{
		{"10.32.1.12", "secret-data.attacker.example.", dns.TypeA, dns.RcodeRefused, ""},
		{"10.32.1.12", "example.com.", dns.TypeAAAA, dns.RcodeRefused, ""},
		{"10.32.1.12", "nosuch.", dns.TypeA, dns.RcodeRefused, ""},
		{"10.32.1.12", "11.0.32.10.in-addr.arpa.", dns.TypePTR, dns.RcodeRefused, ""}, // a1, on net1 only
		{"10.32.1.99", "example.com.", dns.TypeA, dns.RcodeRefused, ""},               // a stranger to the table
		{"10.32.1.30", "example.com.", dns.TypeA, dns.RcodeRefused, ""},               // sandbox-x from its net2 address
		{"10.32.1.12", "secret.", dns.TypeA, dns.RcodeSuccess, "A 10.32.1.12"},
		{"10.32.1.12", "multi.weavego.local.", dns.TypeA, dns.RcodeSuccess, "A 10.32.1.13"},
		{"10.32.1.12", "12.1.32.10.in-addr.arpa.", dns.TypePTR, dns.RcodeSuccess, "PTR secret.weavego.local."},
		{"10.32.1.12", "nosuch.weavego.local.", dns.TypeA, dns.RcodeNameError, ""},
	}
	refused := 0
	for _, tc := range cases {
		for _, tcp := range []bool{false, true} {
			r := askFrom(t, h, query(tc.name, tc.qtype), tcp, tc.from)
			if r == nil || r.Rcode != tc.rcode || joined(rdatas(r.Answer)) != tc.answer {
				t.Errorf("%s %s from %s (tcp %v): %v; want %s [%s]", tc.name, dns.TypeToString[tc.qtype], tc.from,
					tcp, r, dns.RcodeToString[tc.rcode], tc.answer)
			}
			if tc.rcode == dns.RcodeRefused {
				refused++
			}
		}
	}
	if n := len(up.transports()); n != 0 {
		t.Fatalf("the upstream got %d queries from an internal network; want none", n)
	}
	// Control: the same container from its net1 address, and a client of net1 only, forward.
	for _, from := range []string{"10.32.0.30", "10.32.0.11"} {
		if r := askFrom(t, h, query("example.com.", dns.TypeA), false, from); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
			t.Errorf("example.com from %s on net1: %v; want the upstream's answer", from, r)
		}
	}
	if n := len(up.transports()); n != 1 {
		t.Errorf("the upstream got %d queries from net1; want 1 (the second answered from the cache)", n)
	}
	if s := h.Stats(); s.Internal != uint64(refused) || s.Forwarded != 2 || s.Cached != 1 || s.OverBudget != 0 {
		t.Errorf("stats %+v; want Internal %d, Forwarded 2, Cached 1", s, refused)
	}
}
