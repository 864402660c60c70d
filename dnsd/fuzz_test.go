package dnsd

import (
	"encoding/binary"
	"net"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// FuzzServeRaw feeds raw bytes through the same steps as the server: header
// screen, unpack, handler. It must never panic, and every request that
// reaches the handler must get exactly one packable reply (or none, for
// responses). Unknown names are "forwarded" to no upstream: SERVFAIL; a
// third of the requests come from outside the served subnets: REFUSED.
func FuzzServeRaw(f *testing.F) {
	for _, m := range []*dns.Msg{
		query("web.", dns.TypeA),
		query("WEB.weavego.local.", dns.TypeAAAA),
		query("3.0.32.10.in-addr.arpa.", dns.TypePTR),
		query("nope.weavego.local.", dns.TypeANY),
		query("example.com.", dns.TypeMX).SetEdns0(4096, true),
	} {
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	h := newTestHandler(f, Config{})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < headerLen {
			h.invalid(data, dns.ErrShortRead)
			return
		}
		if h.accept(header(data)) != dns.MsgAccept {
			return
		}
		req := new(dns.Msg)
		if err := req.Unpack(data); err != nil {
			h.invalid(data, err)
			return
		}
		w := &fakeWriter{tcp: len(data)%2 == 0}
		if len(data)%3 == 0 {
			w.from = net.ParseIP("192.168.7.7") // a stranger: refused
		}
		h.ServeDNS(w, req)
		if w.packErr != nil {
			t.Fatalf("reply to %v does not pack: %v", req, w.packErr)
		}
		if len(w.replies) > 1 || (len(w.replies) == 0) != req.Response {
			t.Fatalf("%d replies to %v", len(w.replies), req)
		}
	})
}

// header decodes the fixed DNS header the way the library does before
// calling MsgAcceptFunc.
func header(b []byte) dns.Header {
	u := func(i int) uint16 { return binary.BigEndian.Uint16(b[i:]) }
	return dns.Header{Id: u(0), Bits: u(2), Qdcount: u(4), Ancount: u(6), Nscount: u(8), Arcount: u(10)}
}

// FuzzServersFrom checks that resolv.conf parsing never panics and only
// yields usable host:port upstreams, loopback ones apart.
func FuzzServersFrom(f *testing.F) {
	f.Add("nameserver 10.0.0.1\nnameserver 127.0.0.11\n")
	f.Add("nameserver fe80::1%eth0\noptions ndots:5\n")
	f.Fuzz(func(t *testing.T, text string) {
		list, loop := serversFrom(strings.NewReader(text))
		for _, s := range append(list, loop...) {
			if _, err := parseUpstream(s); err != nil {
				t.Fatalf("unusable upstream %q: %v", s, err)
			}
		}
	})
}

// FuzzParseUpstream checks that accepted upstreams round-trip.
func FuzzParseUpstream(f *testing.F) {
	for _, s := range []string{"10.0.0.1", "10.0.0.1:53", "[::1]:53", "::1", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		hp, err := parseUpstream(s)
		if err != nil {
			return
		}
		if again, err := parseUpstream(hp); err != nil || again != hp {
			t.Fatalf("%q -> %q -> %q, %v", s, hp, again, err)
		}
	})
}
