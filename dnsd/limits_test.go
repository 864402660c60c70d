package dnsd

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// twoLoopNets are two served networks on loopback, each with its gateway.
func twoLoopNets() []Served {
	return []Served{
		{Network: "n1", VNI: 1, Subnet: netip.MustParsePrefix("127.1.0.0/16"), Gateway: netip.MustParseAddr("127.1.0.1")},
		{Network: "n2", VNI: 2, Subnet: netip.MustParsePrefix("127.2.0.0/16"), Gateway: netip.MustParseAddr("127.2.0.1")},
	}
}

// startLoopServer serves twoLoopNets with cfg and returns the address of
// each network's listener (each has a port of its own).
func startLoopServer(t *testing.T, cfg Config) (s *Server, n1, n2 netip.AddrPort) {
	t.Helper()
	cfg.Port = AnyPort
	s = newTestServerWith(t, cfg)
	if err := s.SetNetworks(twoLoopNets()); err != nil {
		t.Fatal(err)
	}
	addrs := s.Addrs()
	return s, netip.MustParseAddrPort(addrs[0]), netip.MustParseAddrPort(addrs[1])
}

// A client of n1 that floods its gateway with names that answer NXDOMAIN
// is answered at n1's rate, the rest dropped; a client of n2 is answered.
func TestAnswerRatePerNetwork(t *testing.T) {
	const rate = 400 // the host's; n1 gets 100 a second, 10 at once
	s, n1, n2 := startLoopServer(t, Config{AnswerRate: rate})
	conn, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP("127.1.0.5")}, net.UDPAddrFromAddrPort(n1))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req, err := query("nosuch.weavego.local.", dns.TypeA).Pack()
	if err != nil {
		t.Fatal(err)
	}
	const flood = 2000
	start := time.Now()
	for range flood {
		if _, err := conn.Write(req); err != nil {
			t.Fatal(err)
		}
	}
	c := &dns.Client{Net: "udp", Timeout: 2 * time.Second,
		Dialer: &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP("127.2.0.5")}}}
	for i := range 5 {
		if r, _, err := c.Exchange(query("nosuch.weavego.local.", dns.TypeA), n2.String()); err != nil ||
			r.Rcode != dns.RcodeNameError {
			t.Errorf("n2's query %d during n1's flood: %v %v", i, r, err)
		}
	}
	answered := 0
	buf := make([]byte, 512)
	for {
		_ = conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if _, err := conn.Read(buf); err != nil {
			break
		}
		answered++
	}
	took := time.Since(start) - 300*time.Millisecond
	limit := rate/answerShares/10 + int(took.Seconds()*rate/answerShares) + 2
	t.Logf("n1: %d of %d answered in %v (limit %d); stats %+v", answered, flood, took, limit, s.Stats())
	if answered > limit {
		t.Errorf("n1 got %d of %d answered in %v; its rate allows %d", answered, flood, took, limit)
	}
	if st := s.Stats(); st.Throttled == 0 {
		t.Errorf("nothing counted as throttled: %+v", st)
	}
}

// A client holds at most maxConnsPerClient TCP connections to one listener
// open, and a listener maxConnsPerListener in all: further connections are
// closed at once (counted), and a closed connection gives its place back.
func TestTCPConnsBounded(t *testing.T) {
	s, n1, _ := startLoopServer(t, Config{})
	var conns []*dns.Conn
	dial := func(from string) *dns.Conn {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: time.Second}
		c, err := d.Dial("tcp", n1.String())
		if err != nil {
			t.Fatalf("dial from %s: %v", from, err)
		}
		t.Cleanup(func() { c.Close() })
		conns = append(conns, &dns.Conn{Conn: c})
		return conns[len(conns)-1]
	}
	works := func(c *dns.Conn) bool {
		_ = c.SetDeadline(time.Now().Add(time.Second))
		if c.WriteMsg(query("nosuch.weavego.local.", dns.TypeA)) != nil {
			return false
		}
		r, err := c.ReadMsg()
		return err == nil && r.Rcode == dns.RcodeNameError
	}
	open := 0
	for range 12 {
		if works(dial("127.1.0.5")) {
			open++
		}
	}
	if open != maxConnsPerClient {
		t.Errorf("one client holds %d TCP connections open; want %d", open, maxConnsPerClient)
	}
	if !works(dial("127.1.0.6")) {
		t.Error("another client of the network cannot use TCP")
	}
	open++
	for i := 0; open < maxConnsPerListener; i++ { // fill the listener from other addresses
		if works(dial(fmt.Sprintf("127.1.1.%d", i/maxConnsPerClient))) {
			open++
		}
	}
	if works(dial("127.1.2.1")) {
		t.Errorf("a connection beyond the listener's %d was served", maxConnsPerListener)
	}
	conns[0].Close() // one of 127.1.0.5's: its place is free once the server sees it closed
	freed := false
	for deadline := time.Now().Add(2 * time.Second); !freed && time.Now().Before(deadline); {
		freed = works(dial("127.1.2.1"))
	}
	if !freed {
		t.Error("a closed connection did not give its place back")
	}
	if st := s.Stats(); st.ConnsRefused < 12-maxConnsPerClient+1 {
		t.Errorf("%d connections counted as refused, want at least %d", st.ConnsRefused, 12-maxConnsPerClient+1)
	}
}

// Requests over TCP pass the same gates.
func TestAnswerRateTCP(t *testing.T) {
	s, n1, _ := startLoopServer(t, Config{AnswerRate: 40}) // n1: 10 a second, one at once
	c, err := dns.Dial("tcp", n1.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 5 {
		if err := c.WriteMsg(query("nosuch.weavego.local.", dns.TypeA)); err != nil {
			t.Fatal(err)
		}
	}
	answered := 0
	for {
		_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if _, err := c.ReadMsg(); err != nil {
			break
		}
		answered++
	}
	if st := s.Stats(); answered > 2 || st.Throttled == 0 {
		t.Errorf("%d of 5 answered over TCP at once, stats %+v; want the burst of 1 (2 if 10/s refilled one)", answered, st)
	}
}
