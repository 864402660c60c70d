package dnsd

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

func TestServeLocal(t *testing.T) {
	h := newTestHandler(t, Config{})
	rev4, _ := dns.ReverseAddr("10.32.0.3")
	rev6, _ := dns.ReverseAddr("fd00::5")
	tests := []localCase{
		{"single label", "web.", dns.TypeA, dns.RcodeSuccess, "A 10.32.0.2, A 10.32.1.2", ""},
		{"name.domain", "web.weavego.local.", dns.TypeA, dns.RcodeSuccess, "A 10.32.0.2, A 10.32.1.2", ""},
		{"case-insensitive", "WEB.WeaveGo.LOCAL.", dns.TypeA, dns.RcodeSuccess, "A 10.32.0.2, A 10.32.1.2", ""},
		{"alias", "db-primary.", dns.TypeA, dns.RcodeSuccess, "A 10.32.0.3", ""},
		{"alias with dot in domain", "api.svc.weavego.local.", dns.TypeA, dns.RcodeSuccess, "A 10.32.0.10", ""},
		{"AAAA", "six.weavego.local.", dns.TypeAAAA, dns.RcodeSuccess, "AAAA fd00::5", ""},
		{"ANY gives A and AAAA", "dual.", dns.TypeANY, dns.RcodeSuccess, "A 10.32.0.9, AAAA fd00::9", ""},
		{"NODATA A on v6 name", "six.weavego.local.", dns.TypeA, dns.RcodeSuccess, "", "weavego.local."},
		{"NODATA AAAA single label", "web.", dns.TypeAAAA, dns.RcodeSuccess, "", "web."},
		{"NODATA MX", "web.weavego.local.", dns.TypeMX, dns.RcodeSuccess, "", "weavego.local."},
		{"PTR v4, two names", rev4, dns.TypePTR, dns.RcodeSuccess,
			"PTR DB-Primary.weavego.local., PTR db.weavego.local.", ""},
		{"PTR v6", rev6, dns.TypePTR, dns.RcodeSuccess, "PTR six.weavego.local.", ""},
		{"NODATA A on reverse name", rev6, dns.TypeA, dns.RcodeSuccess, "", rev6},
		{"NXDOMAIN in domain", "nope.weavego.local.", dns.TypeA, dns.RcodeNameError, "", "weavego.local."},
		{"NXDOMAIN below a name", "x.web.weavego.local.", dns.TypeA, dns.RcodeNameError, "", "weavego.local."},
		{"apex SOA", "weavego.local.", dns.TypeSOA, dns.RcodeSuccess, "SOA weavego.local.", ""},
		{"apex NODATA", "weavego.local.", dns.TypeA, dns.RcodeSuccess, "", "weavego.local."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.check(t, ask(t, h, query(tt.qname, tt.qtype), false)) })
	}
	if s := h.Stats(); s.Queries != uint64(len(tests)) || s.Local != s.Queries || s.NXDomain != 2 {
		t.Errorf("stats %+v", s)
	}
}

// localCase is one question answered from the table and what must come back.
type localCase struct {
	name    string
	qname   string
	qtype   uint16
	rcode   int
	answers string // sorted rdatas of the answer section
	soa     string // owner of the SOA in authority, "" for none
}

func (tt localCase) check(t *testing.T, resp *dns.Msg) {
	if resp == nil {
		t.Fatal("no reply")
	}
	if resp.Rcode != tt.rcode {
		t.Fatalf("rcode %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tt.rcode])
	}
	if got := joined(rdatas(resp.Answer)); got != tt.answers {
		t.Errorf("answers [%s], want [%s]", got, tt.answers)
	}
	wantNs := ""
	if tt.soa != "" {
		wantNs = "SOA " + tt.soa
	}
	if got := joined(rdatas(resp.Ns)); got != wantNs {
		t.Errorf("authority [%s], want [%s]", got, wantNs)
	}
	if !resp.Authoritative || !resp.Response || resp.Id == 0 {
		t.Errorf("flags: aa=%v qr=%v id=%d", resp.Authoritative, resp.Response, resp.Id)
	}
	for _, rr := range append(resp.Answer, resp.Ns...) {
		if rr.Header().Ttl != 5 {
			t.Errorf("%s: ttl %d, want 5", rr, rr.Header().Ttl)
		}
	}
}

func TestServeShufflesAddresses(t *testing.T) {
	h := newTestHandler(t, Config{})
	seen := map[string]int{}
	for range 200 {
		resp := ask(t, h, query("web.", dns.TypeA), false)
		if len(resp.Answer) != 2 {
			t.Fatalf("answers %v", resp.Answer)
		}
		seen[resp.Answer[0].(*dns.A).A.String()]++
	}
	if len(seen) != 2 {
		t.Errorf("first address was always the same: %v", seen)
	}
}

func TestServeBadInput(t *testing.T) {
	h := newTestHandler(t, Config{})
	withOpcode := func(op int) *dns.Msg { m := query("web.", dns.TypeA); m.Opcode = op; return m }
	withClass := func(c uint16) *dns.Msg { m := query("web.", dns.TypeA); m.Question[0].Qclass = c; return m }
	noQuestion := query("web.", dns.TypeA)
	noQuestion.Question = nil
	twoQuestions := query("web.", dns.TypeA)
	twoQuestions.Question = append(twoQuestions.Question, twoQuestions.Question[0])
	badVers := query("web.", dns.TypeA).SetEdns0(1232, false)
	badVers.IsEdns0().SetVersion(1)
	twoOPT := query("web.", dns.TypeA).SetEdns0(1232, false)
	twoOPT.Extra = append(twoOPT.Extra, twoOPT.Extra[0])
	response := query("web.", dns.TypeA)
	response.Response = true
	tests := []struct {
		name  string
		req   *dns.Msg
		rcode int // -1: no reply at all
	}{
		{"no question", noQuestion, dns.RcodeFormatError},
		{"two questions", twoQuestions, dns.RcodeFormatError},
		{"two OPT records", twoOPT, dns.RcodeFormatError},
		{"EDNS version 1", badVers, dns.RcodeBadVers},
		{"opcode NOTIFY", withOpcode(dns.OpcodeNotify), dns.RcodeNotImplemented},
		{"opcode UPDATE", withOpcode(dns.OpcodeUpdate), dns.RcodeNotImplemented},
		{"class CHAOS", withClass(dns.ClassCHAOS), dns.RcodeRefused},
		{"class ANY answered", withClass(dns.ClassANY), dns.RcodeSuccess},
		{"AXFR", query("weavego.local.", dns.TypeAXFR), dns.RcodeRefused},
		{"a response", response, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := ask(t, h, tt.req, false)
			if tt.rcode < 0 {
				if resp != nil {
					t.Fatalf("replied %v", resp)
				}
				return
			}
			if resp == nil {
				t.Fatal("no reply")
			}
			if resp.Rcode != tt.rcode || resp.Id != tt.req.Id {
				t.Errorf("rcode %s id %d, want %s id %d",
					dns.RcodeToString[resp.Rcode], resp.Id, dns.RcodeToString[tt.rcode], tt.req.Id)
			}
		})
	}
}

// manyRecords returns n addresses for one name.
func manyRecords(name string, n int) []Record {
	var rs []Record
	for i := range n {
		rs = append(rs, Record{Name: name, IP: netip.AddrFrom4([4]byte{10, 40, byte(i / 250), byte(i%250 + 1)}), Network: "big", VNI: 40})
	}
	return rs
}

func TestServeHonoursSize(t *testing.T) {
	h := newHandlerWith(t, Config{}, manyRecords("many", 100), testMembers())
	tests := []struct {
		name    string
		edns    uint16 // 0: no OPT
		tcp     bool
		wantTC  bool
		wantAll bool
	}{
		{"udp no edns", 0, false, true, false},
		{"udp edns 1232", 1232, false, true, false},
		{"udp edns 4096", 4096, false, false, true},
		{"udp edns tiny treated as 512", 100, false, true, false},
		{"tcp", 0, true, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := query("many.", dns.TypeA)
			if tt.edns > 0 {
				req.SetEdns0(tt.edns, false)
			}
			resp := ask(t, h, req, tt.tcp)
			resp.Compress = true // as Truncate left it on the wire
			b, _ := resp.Pack()
			limit := max(int(tt.edns), 512)
			if tt.tcp {
				limit = dns.MaxMsgSize
			}
			if len(b) > limit {
				t.Errorf("reply %d bytes > %d", len(b), limit)
			}
			if resp.Truncated != tt.wantTC || (len(resp.Answer) == 100) != tt.wantAll {
				t.Errorf("tc=%v answers=%d", resp.Truncated, len(resp.Answer))
			}
			if (tt.edns > 0) != (resp.IsEdns0() != nil) {
				t.Errorf("OPT in reply: %v, in request: %v", resp.IsEdns0() != nil, tt.edns > 0)
			}
		})
	}
}
