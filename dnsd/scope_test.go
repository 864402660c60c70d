package dnsd

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// scopeRecords: a1 only on net1, secret only on net2, multi on both (one
// container), shared a name of one container on net1 and another on net2,
// and an alias that looks like an outside name.
func scopeRecords() []Record {
	return []Record{
		{Name: "a1", IP: netip.MustParseAddr("10.32.0.11"), Network: "net1", VNI: 1, Container: "A"},
		{Name: "secret", IP: netip.MustParseAddr("10.32.1.12"), Network: "net2", VNI: 2, Container: "B"},
		{Name: "multi", IP: netip.MustParseAddr("10.32.0.13"), Network: "net1", VNI: 1, Container: "M"},
		{Name: "multi", IP: netip.MustParseAddr("10.32.1.13"), Network: "net2", VNI: 2, Container: "M"},
		{Name: "shared", IP: netip.MustParseAddr("10.32.0.14"), Network: "net1", VNI: 1, Container: "S1"},
		{Name: "shared", IP: netip.MustParseAddr("10.32.1.14"), Network: "net2", VNI: 2, Container: "S2"},
		{Name: "example.org", IP: netip.MustParseAddr("10.32.0.15"), Network: "net1", VNI: 1, Container: "E"},
		{Name: "GitHub.com", IP: netip.MustParseAddr("10.32.0.15"), Network: "net1", VNI: 1, Container: "E"},
	}
}

// A sandbox known to the table only as a member (its names not yet
// published) on net1 and net2.
func scopeMembers() []Member {
	return []Member{
		{Owner: "sandbox-x", VNI: 1, IP: netip.MustParseAddr("10.32.0.30")},
		{Owner: "sandbox-x", VNI: 2, IP: netip.MustParseAddr("10.32.1.30")},
	}
}

func TestServeScopesByClient(t *testing.T) {
	up := startUpstream(t, dns.RcodeSuccess)
	h := newHandlerWith(t, Config{Upstreams: []string{up.addr}}, scopeRecords(), scopeMembers())
	rev := func(ip string) string { r, _ := dns.ReverseAddr(ip); return r }
	const (
		a       = "10.32.0.11" // A: only on net1
		m1, m2  = "10.32.0.13", "10.32.1.13"
		x       = "10.32.0.30" // sandbox-x: member of net1 and net2
		unknown = "10.32.0.99" // inside net1's subnet, no known container
	)
	tests := []struct {
		name, from, qname string
		qtype             uint16
		rcode             int
		answers           string
	}{
		{"net1 client cannot resolve a net2-only name", a, "secret.", dns.TypeA, dns.RcodeNameError, ""}, // forwarded
		{"... nor under the domain", a, "secret.weavego.local.", dns.TypeA, dns.RcodeNameError, ""},
		{"... nor by reverse lookup", a, rev("10.32.1.12"), dns.TypePTR, dns.RcodeNameError, ""}, // forwarded
		{"net1 client resolves a name on both", a, "multi.", dns.TypeA, dns.RcodeSuccess, "A 10.32.0.13"},
		{"net1 client sees only net1's holder", a, "shared.", dns.TypeA, dns.RcodeSuccess, "A 10.32.0.14"},
		{"net1 client: own network's PTR", a, rev("10.32.0.13"), dns.TypePTR, dns.RcodeSuccess, "PTR multi.weavego.local."},
		{"multi-network container sees net2", m1, "secret.", dns.TypeA, dns.RcodeSuccess, "A 10.32.1.12"},
		{"... and both holders", m1, "shared.weavego.local.", dns.TypeA, dns.RcodeSuccess, "A 10.32.0.14, A 10.32.1.14"},
		{"... asking from its net2 address", m2, "a1.", dns.TypeA, dns.RcodeSuccess, "A 10.32.0.11"},
		{"sandbox member sees both networks", x, "secret.", dns.TypeA, dns.RcodeSuccess, "A 10.32.1.12"},
		{"unknown client: no table names", unknown, "a1.", dns.TypeA, dns.RcodeNameError, ""}, // forwarded
		{"unknown client: NXDOMAIN in domain", unknown, "a1.weavego.local.", dns.TypeA, dns.RcodeNameError, ""},
		{"unknown client still forwards", unknown, "example.com.", dns.TypeA, dns.RcodeSuccess, "A 192.0.2.1"},
		{"alias example.org never shadows", a, "example.org.", dns.TypeA, dns.RcodeNameError, ""}, // upstream's answer
		{"alias answers under the domain", a, "example.org.weavego.local.", dns.TypeA, dns.RcodeSuccess, "A 10.32.0.15"},
		{"alias github.com, any case", a, "github.COM.", dns.TypeA, dns.RcodeNameError, ""},
		{"single label, any case", a, "MULTI.", dns.TypeA, dns.RcodeSuccess, "A 10.32.0.13"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := askFrom(t, h, query(tt.qname, tt.qtype), false, tt.from)
			if resp == nil || resp.Rcode != tt.rcode {
				t.Fatalf("reply %v, want rcode %s", resp, dns.RcodeToString[tt.rcode])
			}
			if got := joined(rdatas(resp.Answer)); got != tt.answers {
				t.Errorf("answers [%s], want [%s]", got, tt.answers)
			}
		})
	}
}

func TestServeRefusesStrangers(t *testing.T) {
	up := startUpstream(t, dns.RcodeSuccess)
	h := newHandlerWith(t, Config{Upstreams: []string{up.addr}}, scopeRecords(), nil)
	for _, from := range []string{"192.168.5.5", "10.32.9.1", "127.0.0.1", "fd01::1"} {
		for _, q := range []string{"a1.", "a1.weavego.local.", "example.com."} {
			for _, tcp := range []bool{false, true} {
				resp := askFrom(t, h, query(q, dns.TypeA), tcp, from)
				if resp == nil || resp.Rcode != dns.RcodeRefused || len(resp.Answer) != 0 {
					t.Errorf("%s from %s: %v, want REFUSED", q, from, resp)
				}
			}
		}
	}
	if s := h.Stats(); s.Strangers != 24 || s.Refused != 24 || s.Forwarded != 0 || len(up.transports()) != 0 {
		t.Errorf("stats %+v, upstream asked %d times", s, len(up.transports()))
	}
	unserved, err := NewHandler(Config{Upstreams: []string{up.addr}}, NewTable())
	if err != nil {
		t.Fatal(err)
	}
	if resp := askFrom(t, unserved, query("example.com.", dns.TypeA), false, "10.32.0.11"); resp.Rcode != dns.RcodeRefused {
		t.Errorf("a handler serving no network answered %v", resp)
	}
}

func TestServeBudgetPerClient(t *testing.T) {
	up := startUpstream(t, dns.RcodeSuccess)
	h := newHandlerWith(t, Config{Upstreams: []string{up.addr}, ClientRate: 1, ClientBurst: 5},
		scopeRecords(), nil)
	now := time.Unix(1000, 0)
	h.limits.now = func() time.Time { return now }
	rcodes := func(from, qname string, n int) map[int]int {
		out := map[int]int{}
		for range n {
			out[askFrom(t, h, query(qname, dns.TypeA), false, from).Rcode]++
		}
		return out
	}
	flood := rcodes("10.32.0.66", "example.com.", 20)
	if flood[dns.RcodeSuccess] != 5 || flood[dns.RcodeRefused] != 15 {
		t.Errorf("flooding client: %v, want 5 forwarded and 15 REFUSED", flood)
	}
	if got := rcodes("10.32.0.66", "a1.weavego.local.", 3); got[dns.RcodeNameError] != 3 {
		t.Errorf("local answers are not budgeted: %v", got)
	}
	if other := rcodes("10.32.0.67", "example.com.", 5); other[dns.RcodeSuccess] != 5 {
		t.Errorf("another client was starved: %v", other)
	}
	now = now.Add(2 * time.Second)
	if again := rcodes("10.32.0.66", "example.com.", 3); again[dns.RcodeSuccess] != 2 {
		t.Errorf("after 2 s at 1/s: %v, want 2 forwarded", again)
	}
	if s := h.Stats(); s.OverBudget != 16 || s.Forwarded != 12 {
		t.Errorf("stats %+v", s)
	}
}

func TestLimiterBoundsClients(t *testing.T) {
	l := newLimiter(1, 2, 3)
	now := time.Unix(0, 0)
	l.now = func() time.Time { return now }
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}) }
	for i := range 10 {
		l.allow(addr(i))
		l.allow(addr(i))
		if l.size() > 3 {
			t.Fatalf("%d clients remembered, limit 3", l.size())
		}
	}
	if l.allow(addr(9)) {
		t.Error("a remembered, empty bucket allowed a forward")
	}
	now = now.Add(time.Hour) // everyone idle: the sweep frees every place
	l.allow(addr(100))
	if l.size() != 1 {
		t.Errorf("after idling: %d clients remembered, want 1", l.size())
	}
}

// A container that cycles through source addresses of its subnet gets a new
// client budget each time, but its network's budget runs out, while the
// clients of another network still forward.
func TestServeBudgetPerNetwork(t *testing.T) {
	up := startUpstream(t, dns.RcodeSuccess)
	h := newHandlerWith(t, Config{Upstreams: []string{up.addr}, ClientRate: 1, ClientBurst: 2},
		scopeRecords(), nil)
	now := time.Unix(1000, 0)
	h.limits.now = func() time.Time { return now }
	h.netLimits.now = func() time.Time { return now }
	forwarded := 0
	for i := range 50 { // 50 addresses of net1, 2 queries each
		from := fmt.Sprintf("10.32.0.%d", 100+i)
		for range 2 {
			if askFrom(t, h, query("example.com.", dns.TypeA), false, from).Rcode == dns.RcodeSuccess {
				forwarded++
			}
		}
	}
	if want := networkShare * 2; forwarded != want {
		t.Errorf("net1 forwarded %d queries from 50 addresses; want its network burst %d", forwarded, want)
	}
	if r := askFrom(t, h, query("example.com.", dns.TypeA), false, "10.32.1.9"); r.Rcode != dns.RcodeSuccess {
		t.Errorf("a client of net2 got %s while net1 was flooded", dns.RcodeToString[r.Rcode])
	}
}

// A request is from a client of the network it arrived on: through net1's
// door, a source address of net2 is a stranger; through net2's, a client.
func TestDoorNamesTheNetwork(t *testing.T) {
	h := newHandlerWith(t, Config{}, scopeRecords(), scopeMembers())
	nets := testNets()
	nets[0].NetNS, nets[1].NetNS = "ns1", "ns2"
	h.setServed(nets)
	via := func(d *door, from string) *dns.Msg {
		w := &fakeWriter{from: net.ParseIP(from)}
		d.ServeDNS(w, query("secret.", dns.TypeA))
		return w.replies[0]
	}
	net1, net2 := newDoor(h, where{"ns1", nets[0].Gateway}), newDoor(h, where{"ns2", nets[1].Gateway})
	if r := via(net1, "10.32.1.30"); r.Rcode != dns.RcodeRefused {
		t.Errorf("net2's address through net1's door: %s, want REFUSED", dns.RcodeToString[r.Rcode])
	}
	if r := via(net2, "10.32.1.30"); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Errorf("net2's address through net2's door: %v", r)
	}
	shared := newDoor(h, where{"", netip.MustParseAddr("169.254.53.53")}) // big's namespace
	if r := via(shared, "10.32.1.30"); r.Rcode != dns.RcodeRefused {
		t.Errorf("net2's address through another namespace's door: %s, want REFUSED", dns.RcodeToString[r.Rcode])
	}
	if s := h.Stats(); s.Strangers != 2 {
		t.Errorf("stats %+v; want 2 strangers", s)
	}
}

func TestGate(t *testing.T) {
	g := newGate(10, 3) // one token per 100 ms, three at once
	now := int64(0)
	count := func(n int) int {
		ok := 0
		for range n {
			if g.allow(now) {
				ok++
			}
		}
		return ok
	}
	if got := count(10); got != 3 {
		t.Errorf("burst: %d of 10 through, want 3", got)
	}
	now += int64(250 * time.Millisecond)
	if got := count(10); got != 2 {
		t.Errorf("after 250 ms: %d through, want 2", got)
	}
	now += int64(time.Hour)
	if got := count(10); got != 3 {
		t.Errorf("after an hour idle: %d through, want the burst, 3", got)
	}
}
