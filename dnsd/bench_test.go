package dnsd

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// discardWriter packs replies like the real server and drops them.
type discardWriter struct{ fakeWriter }

func (w *discardWriter) WriteMsg(m *dns.Msg) error {
	_, err := m.Pack()
	return err
}

// BenchmarkServeLocalName measures a local A answer (two addresses,
// shuffled, packed) from a table of 10,000 names.
func BenchmarkServeLocalName(b *testing.B) {
	h := benchHandler(b, Config{})
	req := query("web.weavego.local.", dns.TypeA)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{}
		for pb.Next() {
			h.ServeDNS(w, req)
		}
	})
	if s := h.Stats(); s.Local != s.Queries {
		b.Fatalf("not all local: %+v", s)
	}
}

// BenchmarkReplace measures rebuilding the index for 10,000 records.
func BenchmarkReplace(b *testing.B) {
	var rs []Record
	for i := range 10000 {
		rs = append(rs, Record{Name: fmt.Sprintf("c%d", i), IP: netip.AddrFrom4([4]byte{10, 32, byte(i >> 8), byte(i)}), Network: "net1", VNI: 1})
	}
	tab := NewTable()
	b.ReportAllocs()
	for b.Loop() {
		if err := tab.Replace(rs, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkServeLocalNameAtDoor is BenchmarkServeLocalName through a
// listener's door: its answer gates (one network's and the host's) and its
// network, as the Server serves.
func BenchmarkServeLocalNameAtDoor(b *testing.B) {
	h := benchHandler(b, Config{AnswerRate: 1e12})
	d := newDoor(h, where{addr: testNets()[0].Gateway})
	req := query("web.weavego.local.", dns.TypeA)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{}
		for pb.Next() {
			d.accept(dns.Header{Id: 1, Qdcount: 1}) // what a TCP request passes; UDP ones pass gateReader
			d.ServeDNS(w, req)
		}
	})
}

// benchHandler answers from 10,000 names on net1 and the test records.
func benchHandler(b *testing.B, cfg Config) *Handler {
	var rs []Record
	for i := range 10000 {
		rs = append(rs, Record{Name: fmt.Sprintf("c%d", i), IP: netip.AddrFrom4([4]byte{10, 32, byte(i >> 8), byte(i)}), Network: "net1", VNI: 1})
	}
	return newHandlerWith(b, cfg, append(rs, testRecords()...), testMembers())
}

// BenchmarkAdmit measures what a listener's answer gates cost a request:
// its network's and the host's token buckets. (A goroutine preempted for
// longer than a bucket's depth between reading the clock and taking its
// token may be refused: the buckets err on the strict side.)
func BenchmarkAdmit(b *testing.B) {
	h := newHandlerWith(b, Config{AnswerRate: 1e12}, testRecords(), testMembers())
	d := newDoor(h, where{addr: testNets()[0].Gateway})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			d.admit()
		}
	})
}
