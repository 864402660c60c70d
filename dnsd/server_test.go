package dnsd

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// loopClient is where test queries to 127.0.0.0/8 come from; it is made a
// container on networks 1 and 2, so it resolves web. to two addresses.
const loopClient = "127.0.0.1"

func newTestServer(t *testing.T, port int) *Server {
	t.Helper()
	return newTestServerWith(t, Config{Port: port})
}

func newTestServerWith(t *testing.T, cfg Config) *Server {
	t.Helper()
	tab := NewTable()
	members := []Member{{Owner: "client", VNI: 1, IP: netip.MustParseAddr(loopClient)}, {Owner: "client", VNI: 2, IP: netip.MustParseAddr("10.32.1.7")}}
	if err := tab.Replace(testRecords(), members); err != nil {
		t.Fatal(err)
	}
	cfg.ResolvConf = emptyResolvConf(t)
	s, err := New(cfg, tab, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// gws are served networks on 127.0.0.0/8 with the given gateways.
func gws(ss ...string) []Served {
	var out []Served
	for _, s := range ss {
		out = append(out, Served{Network: "lo", VNI: 1, Subnet: netip.MustParsePrefix("127.0.0.0/8"),
			Gateway: netip.MustParseAddr(s)})
	}
	return out
}

// exchange asks addr for web. over proto and fails the test on error.
func exchange(t *testing.T, proto, addr string) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: proto, Timeout: 2 * time.Second}
	resp, _, err := c.Exchange(query("web.", dns.TypeA), addr)
	if err != nil {
		t.Fatalf("%s %s: %v", proto, addr, err)
	}
	return resp
}

func TestSetNetworks(t *testing.T) {
	s := newTestServerWith(t, Config{Port: AnyPort, ServiceAddr: netip.MustParseAddr("127.0.0.53")})
	steps := []struct {
		name string
		nets []Served
		want []string // hosts listened on after the call
	}{
		{"first", gws("127.0.0.1"), []string{"127.0.0.1", "127.0.0.53"}},
		{"add", gws("127.0.0.1", "127.0.0.2"), []string{"127.0.0.1", "127.0.0.2", "127.0.0.53"}},
		{"same again, dup", gws("127.0.0.2", "127.0.0.1", "127.0.0.2"), []string{"127.0.0.1", "127.0.0.2", "127.0.0.53"}},
		{"remove", gws("127.0.0.2"), []string{"127.0.0.2", "127.0.0.53"}},
		{"none: no service address either", nil, nil},
		{"back", gws("127.0.0.1", "::ffff:127.0.0.3"), []string{"127.0.0.1", "127.0.0.3", "127.0.0.53"}},
	}
	prev := map[string]string{}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := s.SetNetworks(st.nets); err != nil {
				t.Fatal(err)
			}
			got := s.Addrs()
			cur := map[string]string{}
			for i, a := range got {
				host, _, _ := net.SplitHostPort(a)
				if i >= len(st.want) || host != st.want[i] {
					t.Fatalf("Addrs() = %v, want hosts %v", got, st.want)
				}
				cur[host] = a
				if p, ok := prev[host]; ok && p != a {
					t.Errorf("listener on %s restarted: %s -> %s", host, p, a)
				}
				for _, proto := range []string{"udp", "tcp"} {
					if resp := exchange(t, proto, a); len(resp.Answer) != 2 {
						t.Errorf("%s %s: answers %v", proto, a, resp.Answer)
					}
				}
			}
			if len(got) != len(st.want) {
				t.Fatalf("Addrs() = %v, want hosts %v", got, st.want)
			}
			for host, a := range prev {
				if _, ok := cur[host]; !ok {
					assertReleased(t, a)
				}
			}
			prev = cur
		})
	}
}

// assertReleased checks that a removed listener's port is free again.
func assertReleased(t *testing.T, addr string) {
	t.Helper()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Errorf("udp %s not released: %v", addr, err)
		return
	}
	pc.Close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Errorf("tcp %s not released: %v", addr, err)
		return
	}
	ln.Close()
}

func TestSetNetworksErrors(t *testing.T) {
	busy, err := net.ListenPacket("udp", "127.0.0.4:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.LocalAddr().(*net.UDPAddr).Port
	s := newTestServer(t, port)
	err = s.SetNetworks(gws("127.0.0.4", "127.0.0.5"))
	want := "127.0.0.4:" + strconv.Itoa(port)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v does not name %s", err, want)
	}
	if got := s.Addrs(); len(got) != 1 || got[0] != "127.0.0.5:"+strconv.Itoa(port) {
		t.Errorf("good address not served: %v", got)
	}
	busy.Close()
	if err := s.SetNetworks(gws("127.0.0.4", "127.0.0.5")); err != nil {
		t.Errorf("retry after the port was freed: %v", err)
	}
	if got := s.Addrs(); len(got) != 2 {
		t.Errorf("Addrs() = %v", got)
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	s := newTestServer(t, AnyPort)
	if err := s.SetNetworks(gws("127.0.0.6")); err != nil {
		t.Fatal(err)
	}
	addr := s.Addrs()[0]
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	assertReleased(t, addr)
	if err := s.SetNetworks(gws("127.0.0.6")); !errors.Is(err, ErrClosed) {
		t.Errorf("SetNetworks after Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestServerRejectsMalformed sends raw packets that never reach ServeDNS:
// the library answers them through our accept hooks.
func TestServerRejectsMalformed(t *testing.T) {
	s := newTestServer(t, AnyPort)
	if err := s.SetNetworks(gws("127.0.0.7")); err != nil {
		t.Fatal(err)
	}
	q := query("web.", dns.TypeA)
	q.Id = 0xabcd
	good, _ := q.Pack()
	header := func(bits, qd, an uint16) []byte {
		return []byte{0xab, 0xcd, byte(bits >> 8), byte(bits), byte(qd >> 8), byte(qd), byte(an >> 8), byte(an), 0, 0, 0, 0}
	}
	tests := []struct {
		name  string
		pkt   []byte
		rcode int // -1: no reply expected
	}{
		{"body cut short", good[:len(good)-3], dns.RcodeFormatError},
		{"no question", header(0x0100, 0, 0), dns.RcodeFormatError},
		{"two questions", append(header(0x0100, 2, 0), good[12:]...), dns.RcodeFormatError},
		{"answer in a query", append(header(0x0100, 1, 1), good[12:]...), dns.RcodeFormatError},
		{"opcode NOTIFY", append(header(0x2100, 1, 0), good[12:]...), dns.RcodeNotImplemented},
		{"a response", append(header(0x8100, 1, 0), good[12:]...), -1},
		{"runt", []byte{1, 2, 3}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := rawExchange(t, s.Addrs()[0], tt.pkt, tt.rcode < 0)
			if tt.rcode < 0 {
				if resp != nil {
					t.Fatalf("unexpected reply %v", resp)
				}
				return
			}
			if resp == nil || resp.Rcode != tt.rcode || resp.Id != 0xabcd {
				t.Fatalf("reply %v, want rcode %s", resp, dns.RcodeToString[tt.rcode])
			}
		})
	}
	if st := s.Stats(); st.FormErr != 4 || st.NotImp != 1 || st.Dropped != 2 || st.Queries != 5 {
		t.Errorf("stats %+v", st)
	}
}

// rawExchange sends pkt over UDP and returns the reply, nil if none came.
func rawExchange(t *testing.T, addr string, pkt []byte, expectNone bool) *dns.Msg {
	t.Helper()
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	wait := 2 * time.Second
	if expectNone {
		wait = 200 * time.Millisecond
	}
	conn.SetDeadline(time.Now().Add(wait))
	if _, err := conn.Write(pkt); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		return nil
	}
	m := new(dns.Msg)
	if err := m.Unpack(buf[:n]); err != nil {
		t.Fatalf("unpack reply: %v", err)
	}
	return m
}
