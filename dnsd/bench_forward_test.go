package dnsd

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"
)

// anyUpstream answers every A query with 192.0.2.9 (TTL 60), and names
// under nx. with NXDOMAIN and no SOA (not cached); it records the source
// address of each query.
type anyUpstream struct {
	addr string
	mu   sync.Mutex // guards from
	from []string
}

func startAnyUpstream(t testing.TB) *anyUpstream {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &anyUpstream{addr: pc.LocalAddr().String()}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		u.mu.Lock()
		u.from = append(u.from, w.RemoteAddr().String())
		u.mu.Unlock()
		m := new(dns.Msg).SetReply(r)
		if dns.IsSubDomain("nx.", r.Question[0].Name) {
			m.Rcode = dns.RcodeNameError
		} else {
			m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
				A: net.ParseIP("192.0.2.9")}}
		}
		w.WriteMsg(m)
	})
	startServer(t, &dns.Server{PacketConn: pc, Handler: h})
	return u
}

// startServer runs srv until the test ends, returning once it serves.
func startServer(t testing.TB, srv *dns.Server) {
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
}

func (u *anyUpstream) sources() (queries int, ports map[string]bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	ports = map[string]bool{}
	for _, f := range u.from {
		ports[f] = true
	}
	return len(u.from), ports
}

// BenchmarkForward measures forwarded UDP queries through the handler to
// a miekg/dns upstream on 127.0.0.1, many at a time: "fresh" names the
// upstream answers each time (NXDOMAIN without SOA, never cached), "repeated"
// one name asked again and again. src-ports is how many source ports the
// upstream saw per 1,000 queries: the conntrack entries forwarding leaves.
func BenchmarkForward(b *testing.B) {
	for _, name := range []string{"fresh", "repeated"} {
		b.Run(name, func(b *testing.B) {
			up := startAnyUpstream(b)
			h := newTestHandler(b, Config{Upstreams: []string{up.addr}, ClientRate: 1e9, ClientBurst: 1e9})
			var seq atomic.Int64
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				w := &discardWriter{}
				w.from = net.ParseIP(testClient)
				for pb.Next() {
					q := "www.example."
					if name == "fresh" {
						q = fmt.Sprintf("q%d.nx.", seq.Add(1))
					}
					h.ServeDNS(w, query(q, dns.TypeA))
				}
			})
			b.StopTimer()
			n, ports := up.sources()
			if n > 0 {
				b.ReportMetric(float64(len(ports))*1000/float64(b.N), "src-ports/1000q")
			}
			if s := h.Stats(); s.ServFail != 0 {
				b.Fatalf("%d SERVFAIL", s.ServFail)
			}
		})
	}
}
