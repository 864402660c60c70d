package dnsd

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// fakeWriter is a dns.ResponseWriter that records replies as they would
// arrive on the wire (packed, then unpacked).
type fakeWriter struct {
	tcp  bool
	from net.IP // source address; nil means testClient

	mu      sync.Mutex // guards replies and packErr
	replies []*dns.Msg
	packErr error
}

var _ dns.ResponseWriter = (*fakeWriter)(nil)

func (w *fakeWriter) LocalAddr() net.Addr {
	if w.tcp {
		return &net.TCPAddr{IP: net.IPv4(10, 32, 0, 1), Port: 53}
	}
	return &net.UDPAddr{IP: net.IPv4(10, 32, 0, 1), Port: 53}
}

func (w *fakeWriter) RemoteAddr() net.Addr {
	ip := w.from
	if ip == nil {
		ip = net.ParseIP(testClient)
	}
	if w.tcp {
		return &net.TCPAddr{IP: ip, Port: 40000}
	}
	return &net.UDPAddr{IP: ip, Port: 40000}
}

func (w *fakeWriter) WriteMsg(m *dns.Msg) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	b, err := m.Pack()
	if err == nil {
		back := new(dns.Msg)
		if err = back.Unpack(b); err == nil {
			w.replies = append(w.replies, back)
			return nil
		}
	}
	w.packErr = err
	return err
}

func (w *fakeWriter) Write([]byte) (int, error) { return 0, nil }
func (w *fakeWriter) Close() error              { return nil }
func (w *fakeWriter) TsigStatus() error         { return nil }
func (w *fakeWriter) TsigTimersOnly(bool)       {}
func (w *fakeWriter) Hijack()                   {}

// testClient is the default source of test requests: a container attached
// to net1, net2 and net6 (see testMembers), so it sees every test record.
const testClient = "10.32.0.7"

// testNets are the networks the test handlers serve.
func testNets() []Served {
	return []Served{
		{Network: "net1", VNI: 1, Subnet: netip.MustParsePrefix("10.32.0.0/24"), Gateway: netip.MustParseAddr("10.32.0.1")},
		{Network: "net2", VNI: 2, Subnet: netip.MustParsePrefix("10.32.1.0/24"), Gateway: netip.MustParseAddr("10.32.1.1")},
		{Network: "net6", VNI: 6, Subnet: netip.MustParsePrefix("fd00::/64"), Gateway: netip.MustParseAddr("fd00::1")},
		{Network: "big", VNI: 40, Subnet: netip.MustParsePrefix("10.40.0.0/16")},
	}
}

// testMembers makes testClient a container on every test network.
func testMembers() []Member {
	return []Member{
		{Owner: "client", VNI: 1, IP: netip.MustParseAddr(testClient)},
		{Owner: "client", VNI: 2, IP: netip.MustParseAddr("10.32.1.7")},
		{Owner: "client", VNI: 6, IP: netip.MustParseAddr("fd00::7")},
		{Owner: "client", VNI: 40, IP: netip.MustParseAddr("10.40.200.7")},
	}
}

// testRecords is the table most handler tests answer from.
func testRecords() []Record {
	return []Record{
		{Name: "web", IP: netip.MustParseAddr("10.32.0.2"), Network: "net1", VNI: 1, Container: "web1"},
		{Name: "web", IP: netip.MustParseAddr("10.32.1.2"), Network: "net2", VNI: 2, Container: "web2"},
		{Name: "db", IP: netip.MustParseAddr("10.32.0.3"), Network: "net1", VNI: 1, Container: "db"},
		{Name: "DB-Primary", IP: netip.MustParseAddr("10.32.0.3"), Network: "net1", VNI: 1, Container: "db"},
		{Name: "six", IP: netip.MustParseAddr("fd00::5"), Network: "net6", VNI: 6},
		{Name: "dual", IP: netip.MustParseAddr("10.32.0.9"), Network: "net1", VNI: 1, Container: "dual"},
		{Name: "dual", IP: netip.MustParseAddr("fd00::9"), Network: "net6", VNI: 6, Container: "dual"},
		{Name: "api.svc", IP: netip.MustParseAddr("10.32.0.10"), Network: "net1", VNI: 1},
	}
}

// emptyResolvConf writes a resolv.conf naming only loopback resolvers, so
// that forwarding fails at once with SERVFAIL.
func emptyResolvConf(t testing.TB) string {
	p := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(p, []byte("nameserver 127.0.0.11\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// newTestHandler builds a handler over testRecords; cfg.ResolvConf defaults
// to one with no usable upstream.
func newTestHandler(t testing.TB, cfg Config) *Handler {
	t.Helper()
	if cfg.ResolvConf == "" && len(cfg.Upstreams) == 0 {
		cfg.ResolvConf = emptyResolvConf(t)
	}
	return newHandlerWith(t, cfg, testRecords(), testMembers())
}

// newHandlerWith builds a handler serving testNets over records and members.
func newHandlerWith(t testing.TB, cfg Config, records []Record, members []Member) *Handler {
	t.Helper()
	if cfg.ResolvConf == "" && len(cfg.Upstreams) == 0 {
		cfg.ResolvConf = emptyResolvConf(t)
	}
	tab := NewTable()
	if err := tab.Replace(records, members); err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(cfg, tab)
	if err != nil {
		t.Fatal(err)
	}
	h.setServed(testNets())
	return h
}

// ask serves req from testClient and returns the single reply, or nil if
// none was sent.
func ask(t testing.TB, h *Handler, req *dns.Msg, tcp bool) *dns.Msg {
	t.Helper()
	return askFrom(t, h, req, tcp, testClient)
}

// askFrom serves req from the address from.
func askFrom(t testing.TB, h *Handler, req *dns.Msg, tcp bool, from string) *dns.Msg {
	t.Helper()
	w := &fakeWriter{tcp: tcp, from: net.ParseIP(from)}
	h.ServeDNS(w, req)
	if w.packErr != nil {
		t.Fatalf("reply does not pack: %v", w.packErr)
	}
	switch len(w.replies) {
	case 0:
		return nil
	case 1:
		return w.replies[0]
	}
	t.Fatalf("%d replies to one request", len(w.replies))
	return nil
}

func query(name string, qtype uint16) *dns.Msg {
	return new(dns.Msg).SetQuestion(name, qtype)
}

// rdatas renders a section as sorted "TYPE data" strings.
func rdatas(rrs []dns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		var s string
		switch v := rr.(type) {
		case *dns.A:
			s = "A " + v.A.String()
		case *dns.AAAA:
			s = "AAAA " + v.AAAA.String()
		case *dns.PTR:
			s = "PTR " + v.Ptr
		case *dns.SOA:
			s = "SOA " + v.Hdr.Name
		default:
			s = dns.TypeToString[rr.Header().Rrtype]
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func joined(ss []string) string { return strings.Join(ss, ", ") }
