package dnsd

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func aRecord(name string, ttl uint32) dns.RR {
	return &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl}, A: net.ParseIP("192.0.2.7")}
}

func soaRecord(ttl, minttl uint32) dns.RR {
	return &dns.SOA{Hdr: dns.RR_Header{Name: "example.", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ttl},
		Ns: "ns.example.", Mbox: "h.example.", Minttl: minttl}
}

func TestCacheTTLs(t *testing.T) {
	t0 := time.Unix(1e9, 0)
	tests := []struct {
		name  string
		reply func(r *dns.Msg) *dns.Msg
		after time.Duration
		hit   bool
		ttl   uint32 // of the first answer or authority record, when hit
	}{
		{"answer within its TTL", func(r *dns.Msg) *dns.Msg { return reply(r, 0, aRecord("x.example.", 60)) }, 10 * time.Second, true, 50},
		{"answer after its TTL", func(r *dns.Msg) *dns.Msg { return reply(r, 0, aRecord("x.example.", 60)) }, 60 * time.Second, false, 0},
		{"least TTL counts", func(r *dns.Msg) *dns.Msg {
			return reply(r, 0, aRecord("x.example.", 600), aRecord("x.example.", 20))
		}, 25 * time.Second, false, 0},
		{"TTL bounded", func(r *dns.Msg) *dns.Msg { return reply(r, 0, aRecord("x.example.", 86400)) }, maxCacheTTL, false, 0},
		{"zero TTL not cached", func(r *dns.Msg) *dns.Msg { return reply(r, 0, aRecord("x.example.", 0)) }, 0, false, 0},
		{"NXDOMAIN for the SOA minimum", func(r *dns.Msg) *dns.Msg {
			m := reply(r, dns.RcodeNameError)
			m.Ns = []dns.RR{soaRecord(3600, 30)}
			return m
		}, 20 * time.Second, true, 3580},
		{"NXDOMAIN past the SOA minimum", func(r *dns.Msg) *dns.Msg {
			m := reply(r, dns.RcodeNameError)
			m.Ns = []dns.RR{soaRecord(3600, 30)}
			return m
		}, 30 * time.Second, false, 0},
		{"NXDOMAIN without SOA not cached", func(r *dns.Msg) *dns.Msg { return reply(r, dns.RcodeNameError) }, 0, false, 0},
		{"SERVFAIL not cached", func(r *dns.Msg) *dns.Msg { return reply(r, dns.RcodeServerFailure, aRecord("x.example.", 60)) }, 0, false, 0},
		{"truncated not cached", func(r *dns.Msg) *dns.Msg {
			m := reply(r, 0, aRecord("x.example.", 60))
			m.Truncated = true
			return m
		}, 0, false, 0},
		{"other question not cached", func(*dns.Msg) *dns.Msg {
			return reply(query("y.example.", dns.TypeA), 0, aRecord("y.example.", 60))
		}, 0, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newAnswerCache(10)
			r := query("x.example.", dns.TypeA)
			c.put(r, tt.reply(r), t0)
			ask := query("X.Example.", dns.TypeA)
			ask.Id = 4242
			got := c.get(ask, t0.Add(tt.after))
			if (got != nil) != tt.hit {
				t.Fatalf("hit = %v, want %v", got != nil, tt.hit)
			}
			if got == nil {
				return
			}
			if got.Id != 4242 || got.Question[0].Name != "X.Example." {
				t.Errorf("reply id %d question %s, want the request's", got.Id, got.Question[0].Name)
			}
			rrs := append(got.Answer, got.Ns...)
			if rrs[0].Header().Ttl != tt.ttl {
				t.Errorf("TTL %d, want %d", rrs[0].Header().Ttl, tt.ttl)
			}
		})
	}
}

func reply(r *dns.Msg, rcode int, answers ...dns.RR) *dns.Msg {
	m := new(dns.Msg).SetRcode(r, rcode)
	m.Answer = answers
	return m
}

// TestCacheKeysAndBounds checks that the DNSSEC bits and the type are part
// of the key, that a served copy does not change the entry, and that the
// cache holds at most its size.
func TestCacheKeysAndBounds(t *testing.T) {
	t0 := time.Unix(1e9, 0)
	c := newAnswerCache(4)
	r := query("x.example.", dns.TypeA)
	c.put(r, reply(r, 0, aRecord("x.example.", 60)), t0)
	do := query("x.example.", dns.TypeA)
	do.SetEdns0(1232, true)
	if c.get(do, t0) != nil || c.get(query("x.example.", dns.TypeAAAA), t0) != nil {
		t.Error("an answer served for another DO bit or type")
	}
	got := c.get(r, t0)
	got.Answer[0].Header().Ttl = 1
	if again := c.get(r, t0); again.Answer[0].Header().Ttl != 60 {
		t.Errorf("changing a served answer changed the cache: TTL %d", again.Answer[0].Header().Ttl)
	}
	for _, n := range []string{"a.", "b.", "c.", "d.", "e.", "f."} {
		q := query(n, dns.TypeA)
		c.put(q, reply(q, 0, aRecord(n, 60)), t0)
	}
	if n := len(c.entries); n > 4 {
		t.Errorf("cache holds %d answers, bound 4", n)
	}
}

// FuzzCache stores any reply an upstream might send and checks that what
// comes back answers the question asked, never with a TTL above the
// bound, and not at all once the bound has passed.
func FuzzCache(f *testing.F) {
	r := query("x.example.", dns.TypeA)
	for _, m := range []*dns.Msg{reply(r, 0, aRecord("x.example.", 60)), reply(r, dns.RcodeNameError, soaRecord(60, 5))} {
		b, _ := m.Pack()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, wire []byte) {
		resp := new(dns.Msg)
		if resp.Unpack(wire) != nil || len(resp.Question) != 1 {
			return
		}
		t0 := time.Unix(1e9, 0)
		c := newAnswerCache(2)
		q := new(dns.Msg).SetQuestion(resp.Question[0].Name, resp.Question[0].Qtype)
		q.Question[0].Qclass = resp.Question[0].Qclass
		c.put(q, resp, t0)
		if got := c.get(q, t0.Add(maxCacheTTL)); got != nil {
			t.Fatalf("served past the TTL bound: %v", got)
		}
		got := c.get(q, t0)
		if got == nil {
			return
		}
		if got.Id != q.Id || !sameQuestion(got.Question[0], q.Question[0]) {
			t.Fatalf("answer to another request: %v", got)
		}
		if got.Rcode != dns.RcodeSuccess && got.Rcode != dns.RcodeNameError {
			t.Fatalf("rcode %d cached", got.Rcode)
		}
		for _, rr := range append(got.Answer, got.Ns...) {
			if time.Duration(rr.Header().Ttl)*time.Second > maxCacheTTL+time.Duration(rr.Header().Ttl)*time.Second {
				t.Fatalf("TTL %d", rr.Header().Ttl)
			}
		}
		if _, err := got.Pack(); err != nil {
			t.Fatalf("cached answer does not pack: %v", err)
		}
	})
}
