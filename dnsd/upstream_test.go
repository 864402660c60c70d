package dnsd

import (
	"fmt"
	"net"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// TestForwardSharesSockets checks that many UDP forwards reach the
// upstream from at most poolSockets source ports (one conntrack entry
// each), and that each client gets the answer to its own question.
func TestForwardSharesSockets(t *testing.T) {
	up := startAnyUpstream(t)
	h := newTestHandler(t, Config{Upstreams: []string{up.addr}, ClientRate: 1e6, ClientBurst: 1e6})
	var wg sync.WaitGroup
	for i := range 200 { // within one network's share of forwards in flight
		wg.Go(func() {
			name := fmt.Sprintf("n%d.nx.", i)
			if i%2 == 0 {
				name = fmt.Sprintf("n%d.example.", i)
			}
			w := &fakeWriter{from: net.ParseIP(testClient)}
			h.ServeDNS(w, query(name, dns.TypeA))
			if len(w.replies) != 1 || w.replies[0].Question[0].Name != name {
				t.Errorf("%s: replies %v", name, w.replies)
				return
			}
			if want := map[bool]int{true: dns.RcodeSuccess, false: dns.RcodeNameError}[i%2 == 0]; w.replies[0].Rcode != want {
				t.Errorf("%s: rcode %s", name, dns.RcodeToString[w.replies[0].Rcode])
			}
		})
	}
	wg.Wait()
	n, ports := up.sources()
	if n != 200 || len(ports) > poolSockets {
		t.Errorf("upstream got %d queries from %d source ports; want 200 from at most %d", n, len(ports), poolSockets)
	}
}

// TestCacheScoping checks that an answer cached for one network's client
// is served to another's only where it would have been forwarded: not
// where the name is a container's name, never to an --internal network.
func TestCacheScoping(t *testing.T) {
	up := startAnyUpstream(t)
	h := newHandlerWith(t, Config{Upstreams: []string{up.addr}}, scopeRecords(), scopeMembers())
	nets := testNets()
	nets[1].Internal = true // net2, 10.32.1.0/24
	h.setServed(nets)
	// "secret" is a container of net2 only: net1's client gets the upstream's answer, which is cached.
	for range 2 {
		if r := askFrom(t, h, query("secret.", dns.TypeA), false, "10.32.0.11"); r == nil || joined(rdatas(r.Answer)) != "A 192.0.2.9" {
			t.Fatalf("secret. from net1: %v; want the upstream's answer", r)
		}
	}
	if n, _ := up.sources(); n != 1 {
		t.Errorf("upstream asked %d times for one name within its TTL; want once", n)
	}
	if r := askFrom(t, h, query("secret.", dns.TypeA), false, "10.32.1.12"); r == nil || joined(rdatas(r.Answer)) != "A 10.32.1.12" {
		t.Errorf("secret. from net2: %v; want the container's address, not the cached answer", r)
	}
	if r := askFrom(t, h, query("secret.", dns.TypeAAAA), false, "10.32.1.12"); r == nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 {
		t.Errorf("secret. AAAA from net2: %v; want the table's NODATA", r)
	}
	if r := askFrom(t, h, query("x.example.", dns.TypeA), false, "10.32.0.11"); r == nil || len(r.Answer) != 1 {
		t.Fatalf("x.example. from net1: %v", r)
	}
	if r := askFrom(t, h, query("x.example.", dns.TypeA), false, "10.32.1.12"); r == nil || r.Rcode != dns.RcodeRefused {
		t.Errorf("cached x.example. from internal net2: %v; want REFUSED", r)
	}
	if s := h.Stats(); s.Cached != 1 || s.Forwarded != 3 {
		t.Errorf("stats %+v; want 1 cached of 3 forwarded", s)
	}
}
