package mesh

import (
	"testing"
	"time"
)

func TestWriteAtLeast(t *testing.T) {
	tests := []struct {
		name         string
		known, floor uint64
		wantVersion  uint64
	}{
		{"floor above known", 3, 1 << 20, 1 << 20},
		{"floor below known", 7, 2, 8},
		{"floor capped", 1, MaxVersion + 5, MaxVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(time.Minute)
			for range tt.known {
				s.write("a", Entry{Kind: "k", Key: "x", Value: []byte("v")}, time.Now())
			}
			r := s.writeAtLeast("b", Entry{Kind: "k", Key: "x", Value: []byte("w")}, tt.floor, time.Now())
			if r.e.Version != tt.wantVersion || r.e.Owner != "b" {
				t.Fatalf("wrote version %d by %s, want %d by b", r.e.Version, r.e.Owner, tt.wantVersion)
			}
			if e, _ := s.get("k", "x"); e.Version != tt.wantVersion {
				t.Fatalf("stored version %d, want %d", e.Version, tt.wantVersion)
			}
		})
	}
}
