package dnsd

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// BenchmarkServeUDP measures answers per second over UDP on 127.0.0.1 from
// 16 clients, each one query at a time, for a local name in a table of
// 10,001 names: "dnsd" the real Server, "minimal" the least a miekg/dns
// server does (a map lookup and an A reply), the reference dnsd is held
// to (BENCHMARKS.md). Run with -count to interleave them.
func BenchmarkServeUDP(b *testing.B) {
	b.Run("dnsd", func(b *testing.B) { loadUDP(b, serveDnsd(b)) })
	b.Run("minimal", func(b *testing.B) { loadUDP(b, serveMinimal(b)) })
}

func benchRecords() []Record {
	rs := make([]Record, 0, 10001)
	for i := range 10000 {
		rs = append(rs, Record{Name: fmt.Sprintf("c%d", i), IP: netip.AddrFrom4([4]byte{10, 32, byte(i >> 8), byte(i)}), Network: "n", VNI: 1})
	}
	return append(rs, Record{Name: "web", IP: netip.AddrFrom4([4]byte{10, 33, 0, 1}), Network: "n", VNI: 1})
}

// serveDnsd starts a Server as the plugin runs it, on 127.0.0.1.
func serveDnsd(b *testing.B) string {
	tab := NewTable()
	if err := tab.Replace(benchRecords(), []Member{{Owner: "load", VNI: 1, IP: netip.MustParseAddr("127.0.0.1")}}); err != nil {
		b.Fatal(err)
	}
	srv, err := New(Config{Port: AnyPort, Upstreams: []string{"127.0.0.1:9"}, AnswerRate: 1e9}, tab, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	lo := []Served{{Network: "n", VNI: 1, Subnet: netip.MustParsePrefix("127.0.0.0/8"), Gateway: netip.MustParseAddr("127.0.0.1")}}
	if err := srv.SetNetworks(lo); err != nil {
		b.Fatal(err)
	}
	return srv.Addrs()[0]
}

// minimalHandler is the reference's handler: a map lookup and an A reply.
func minimalHandler() dns.Handler {
	names := map[string]net.IP{}
	for _, r := range benchRecords() {
		names[r.Name+"."+DefaultDomain+"."] = r.IP.AsSlice()
	}
	return dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg).SetReply(r)
		if ip, ok := names[r.Question[0].Name]; ok {
			m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 5}, A: ip}}
		}
		w.WriteMsg(m)
	})
}

// serveMinimal starts the reference server on 127.0.0.1.
func serveMinimal(b *testing.B) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	startServer(b, &dns.Server{PacketConn: pc, Handler: minimalHandler()})
	return pc.LocalAddr().String()
}

// BenchmarkServeMinimalHandler is BenchmarkServeLocalNameAtDoor for the
// reference's handler: what the library's least answer costs without a
// socket, to compare dnsd's handler with on a loaded machine.
func BenchmarkServeMinimalHandler(b *testing.B) {
	h := minimalHandler()
	req := query("web."+DefaultDomain+".", dns.TypeA)
	b.ReportAllocs()
	cpu := cpuTime(b)
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{}
		for pb.Next() {
			h.ServeDNS(w, req)
		}
	})
	cpu.report(b)
}

// cpuClock reports the process's CPU time per operation ("cpu-ns/op"): on
// a machine others load, it varies far less than the time on the clock.
type cpuClock struct{ start time.Duration }

func cpuTime(b *testing.B) cpuClock {
	b.Helper()
	return cpuClock{start: processCPU(b)}
}

func (c cpuClock) report(b *testing.B) {
	b.ReportMetric(float64(processCPU(b)-c.start)/float64(b.N), "cpu-ns/op")
}

func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadUDP sends b.N queries for web.weavego.local to addr from 16 clients
// and reports the answers per second.
func loadUDP(b *testing.B, addr string) {
	q, err := query("web."+DefaultDomain+".", dns.TypeA).Pack()
	if err != nil {
		b.Fatal(err)
	}
	const clients = 16
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for c := range clients {
		n := b.N / clients
		if c < b.N%clients {
			n++
		}
		wg.Go(func() {
			if err := askUDP(addr, q, n); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "q/s")
}

func askUDP(addr string, q []byte, n int) error {
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	buf := make([]byte, 512)
	for range n {
		if _, err := conn.Write(q); err != nil {
			return err
		}
		if err := conn.SetReadDeadline(time.Now().Add(time.Second)); err != nil {
			return err
		}
		if m, err := conn.Read(buf); err != nil || m < headerLen {
			return fmt.Errorf("no answer from %s: %v", addr, err)
		}
	}
	return nil
}

// udpWriter is a UDP client's writer as the library's: a fixed remote
// address, replies packed and dropped.
type udpWriter struct {
	discardWriter
	addr *net.UDPAddr
}

func (w *udpWriter) RemoteAddr() net.Addr { return w.addr }

// BenchmarkServeBenchTable is BenchmarkServeUDP/dnsd without sockets: the
// same table and client (one network), through a listener's door, so that
// its cost can be set against BenchmarkServeMinimalHandler's.
func BenchmarkServeBenchTable(b *testing.B) {
	tab := NewTable()
	if err := tab.Replace(benchRecords(), []Member{{Owner: "load", VNI: 1, IP: netip.MustParseAddr("127.0.0.1")}}); err != nil {
		b.Fatal(err)
	}
	h, err := NewHandler(Config{Upstreams: []string{"127.0.0.1:9"}, AnswerRate: 1e12}, tab)
	if err != nil {
		b.Fatal(err)
	}
	gw := netip.MustParseAddr("127.0.0.1")
	h.setServed([]Served{{Network: "n", VNI: 1, Subnet: netip.MustParsePrefix("127.0.0.0/8"), Gateway: gw}})
	d := newDoor(h, where{addr: gw})
	req := query("web."+DefaultDomain+".", dns.TypeA)
	b.ReportAllocs()
	cpu := cpuTime(b)
	b.RunParallel(func(pb *testing.PB) {
		w := &udpWriter{addr: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}}
		for pb.Next() {
			d.ServeDNS(w, req)
		}
	})
	cpu.report(b)
	if s := h.Stats(); s.Local != s.Queries {
		b.Fatalf("not all local: %+v", s)
	}
}
