package dnsload

import (
	"context"
	"net"
	"testing"

	"github.com/miekg/dns"
)

// serve answers every A query on a loopback UDP port with 10.0.0.1 until the test ends.
func serve(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg).SetReply(r)
		m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA,
			Class: dns.ClassINET, Ttl: 5}, A: net.IPv4(10, 0, 0, 1)}}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

func TestRun(t *testing.T) {
	addr := serve(t)
	qps, p99, err := Run(context.Background(), addr, "web", 4, 2000)
	if err != nil || qps <= 0 || p99 <= 0 {
		t.Fatalf("Run: qps %.0f p99 %v err %v", qps, p99, err)
	}
	t.Logf("loopback load: %.0f qps, p99 %v", qps, p99)
}

func TestRunRejects(t *testing.T) {
	for _, bad := range []struct {
		addr       string
		workers, n int
	}{{"10.0.0.1:53", 1, 1}, {"127.0.0.1:53", 0, 1}, {"127.0.0.1:53", 1, MaxQueries + 1}} {
		if _, _, err := Run(context.Background(), bad.addr, "web", bad.workers, bad.n); err == nil {
			t.Errorf("Run(%v) accepted", bad)
		}
	}
}
