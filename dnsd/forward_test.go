package dnsd

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// fakeUpstream is a real miekg/dns server on 127.0.0.1 answering:
// example.com. A 192.0.2.1; big.example. truncated over UDP and with an
// answer over TCP; fail.example. SERVFAIL; names under slow. never;
// anything else NXDOMAIN.
type fakeUpstream struct {
	addr string

	mu   sync.Mutex // guards nets
	nets []string   // transport of each query received
}

func startUpstream(t *testing.T, rcodeAll int) *fakeUpstream {
	t.Helper()
	return startUpstreamOn(t, "127.0.0.1", rcodeAll)
}

// startUpstreamOn is startUpstream on address ip.
func startUpstreamOn(t *testing.T, ip string, rcodeAll int) *fakeUpstream {
	t.Helper()
	pc, ln, err := bindPair(netip.MustParseAddr(ip), AnyPort)
	if err != nil {
		t.Fatal(err)
	}
	u := &fakeUpstream{addr: pc.LocalAddr().String()}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) { u.serve(w, r, rcodeAll) })
	startServer(t, &dns.Server{PacketConn: pc, Handler: h})
	startServer(t, &dns.Server{Listener: ln, Handler: h})
	return u
}

func (u *fakeUpstream) serve(w dns.ResponseWriter, r *dns.Msg, rcodeAll int) {
	proto := network(w)
	u.mu.Lock()
	u.nets = append(u.nets, proto)
	u.mu.Unlock()
	m := new(dns.Msg).SetReply(r)
	m.RecursionAvailable = true
	switch q := r.Question[0]; {
	case rcodeAll != dns.RcodeSuccess:
		m.Rcode = rcodeAll
	case dns.IsSubDomain("slow.", q.Name):
		return // a name whose authority does not answer
	case q.Name == "example.com.":
		m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
			A: net.ParseIP("192.0.2.1")}}
	case q.Name == "big.example." && proto == "udp":
		m.Truncated = true
	case q.Name == "big.example.":
		m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
			A: net.ParseIP("192.0.2.2")}}
	default:
		m.Rcode = dns.RcodeNameError
	}
	w.WriteMsg(m)
}

func (u *fakeUpstream) transports() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.nets...)
}

// blackhole returns an address that accepts UDP datagrams and TCP
// connections but never answers.
func blackhole(t *testing.T) string {
	pc, ln, err := bindPair(netip.MustParseAddr("127.0.0.1"), AnyPort)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close(); ln.Close() })
	return pc.LocalAddr().String()
}

func TestForward(t *testing.T) {
	good := startUpstream(t, dns.RcodeSuccess)
	sick := startUpstream(t, dns.RcodeServerFailure)
	hole := blackhole(t)
	const timeout = 200 * time.Millisecond
	tests := []struct {
		name      string
		upstreams []string
		qname     string
		tcp       bool
		rcode     int
		answers   string
		tc        bool
		minTime   time.Duration
	}{
		{"forwarded A", []string{good.addr}, "example.com.", false, dns.RcodeSuccess, "A 192.0.2.1", false, 0},
		{"unknown single label forwarded", []string{good.addr}, "nosuch.", false, dns.RcodeNameError, "", false, 0},
		{"TC relayed over udp", []string{good.addr}, "big.example.", false, dns.RcodeSuccess, "", true, 0},
		{"tcp forwarded over tcp", []string{good.addr}, "big.example.", true, dns.RcodeSuccess, "A 192.0.2.2", false, 0},
		{"dead first upstream skipped", []string{hole, good.addr}, "example.com.", false, dns.RcodeSuccess, "A 192.0.2.1", false, timeout},
		{"dead first upstream skipped tcp", []string{hole, good.addr}, "example.com.", true, dns.RcodeSuccess, "A 192.0.2.1", false, timeout},
		{"SERVFAIL upstream skipped", []string{sick.addr, good.addr}, "example.com.", false, dns.RcodeSuccess, "A 192.0.2.1", false, 0},
		{"only SERVFAIL relayed", []string{sick.addr}, "example.com.", false, dns.RcodeServerFailure, "", false, 0},
		{"all time out", []string{hole, hole}, "example.com.", false, dns.RcodeServerFailure, "", false, 2 * timeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHandler(t, Config{Upstreams: tt.upstreams, ForwardTimeout: timeout})
			start := time.Now()
			resp := ask(t, h, query(tt.qname, dns.TypeA), tt.tcp)
			took := time.Since(start)
			if resp == nil {
				t.Fatal("no reply")
			}
			if resp.Rcode != tt.rcode || resp.Truncated != tt.tc {
				t.Errorf("rcode %s tc %v, want %s tc %v",
					dns.RcodeToString[resp.Rcode], resp.Truncated, dns.RcodeToString[tt.rcode], tt.tc)
			}
			if got := joined(rdatas(resp.Answer)); got != tt.answers {
				t.Errorf("answers [%s], want [%s]", got, tt.answers)
			}
			limit := time.Duration(len(tt.upstreams))*timeout + 300*time.Millisecond
			if took < tt.minTime || took > limit {
				t.Errorf("took %v, want between %v and %v", took, tt.minTime, limit)
			}
		})
	}
	want := map[string]bool{"udp": true, "tcp": true}
	for _, n := range good.transports() {
		delete(want, n)
	}
	if len(want) != 0 {
		t.Errorf("upstream never saw %v", want)
	}
}

func TestForwardCountsStats(t *testing.T) {
	good := startUpstream(t, dns.RcodeSuccess)
	h := newTestHandler(t, Config{Upstreams: []string{good.addr}})
	ask(t, h, query("example.com.", dns.TypeA), false)
	ask(t, h, query("web.", dns.TypeA), false)
	noUp := newTestHandler(t, Config{})
	if resp := ask(t, noUp, query("example.com.", dns.TypeA), false); resp.Rcode != dns.RcodeServerFailure {
		t.Errorf("no upstreams: rcode %s", dns.RcodeToString[resp.Rcode])
	}
	if s := h.Stats(); s.Queries != 2 || s.Forwarded != 1 || s.Local != 1 {
		t.Errorf("stats %+v", s)
	}
	if s := noUp.Stats(); s.ServFail != 1 || s.Forwarded != 0 {
		t.Errorf("stats without upstreams %+v", s)
	}
}

func TestForwardBoundsInflight(t *testing.T) {
	hole := blackhole(t)
	h := newTestHandler(t, Config{Upstreams: []string{hole}, ForwardTimeout: time.Second})
	h.fwd.slots = make(chan struct{}, 1)
	h.fwd.slots <- struct{}{}                                // the pool is taken
	h.served.Load().nets[0].share.inflight.Store(netReserve) // and net1's reserve
	start := time.Now()
	resp := ask(t, h, query("example.com.", dns.TypeA), false)
	if resp.Rcode != dns.RcodeServerFailure || time.Since(start) > 500*time.Millisecond {
		t.Errorf("rcode %s after %v, want immediate SERVFAIL", dns.RcodeToString[resp.Rcode], time.Since(start))
	}
}

// A container of net1 that cycles through source addresses of its subnet and
// asks for names that never answer fills its own network's share of the
// forwards in flight, not the host's: a client of net2 is still answered.
func TestForwardSharesInflight(t *testing.T) {
	up := startUpstream(t, dns.RcodeSuccess)
	h := newTestHandler(t, Config{Upstreams: []string{up.addr}, ForwardTimeout: time.Second,
		ClientRate: 1000, ClientBurst: 1000})
	h.fwd.slots = make(chan struct{}, 8) // the host's pool, small for the test
	const flood = 40
	var wg sync.WaitGroup
	for i := range flood {
		wg.Add(1)
		go func() {
			defer wg.Done()
			askFrom(t, h, query(fmt.Sprintf("n%d.slow.", i), dns.TypeA), false, fmt.Sprintf("10.32.0.%d", 100+i))
		}()
	}
	defer wg.Wait()
	deadline := time.Now().Add(900 * time.Millisecond)
	for h.Stats().ServFail < uint64(flood-netReserve-cap(h.fwd.slots)/poolShares) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if r := askFrom(t, h, query("example.com.", dns.TypeA), false, "10.32.1.9"); r.Rcode != dns.RcodeSuccess {
		t.Errorf("a client of net2 got %s while net1 held the forwards in flight", dns.RcodeToString[r.Rcode])
	}
	held, pool := h.served.Load().nets[0].share.inflight.Load(), len(h.fwd.slots)
	if want := netReserve + cap(h.fwd.slots)/poolShares; held != int32(want) || pool != want-netReserve {
		t.Errorf("net1 holds %d forwards, %d of the pool; want its reserve and a quarter of the pool, %d", held, pool, want)
	}
}
