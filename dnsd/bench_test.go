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
	var rs []Record
	for i := range 10000 {
		rs = append(rs, Record{Name: fmt.Sprintf("c%d", i), IP: netip.AddrFrom4([4]byte{10, 32, byte(i >> 8), byte(i)}), Network: "net1", VNI: 1})
	}
	rs = append(rs, testRecords()...)
	h := newHandlerWith(b, Config{}, rs, testMembers())
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
