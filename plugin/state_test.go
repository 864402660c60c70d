package main

import (
	"log/slog"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/weavego/weavego/internal/statefile"
	"github.com/weavego/weavego/mesh"
	"github.com/weavego/weavego/reconcile"
)

// A saved state older than the tombstone lifetime is restored without its
// network definitions (the others may have removed them meanwhile); a fresh
// one is restored whole.
func TestRestoreMeshLeavesOutStaleNetworks(t *testing.T) {
	ttl := time.Minute
	for _, tc := range []struct {
		name      string
		age       time.Duration
		wantStale bool
		wantNet   bool
	}{
		{"fresh", time.Second, false, true},
		{"stale", 2 * ttl, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := statefile.Open(filepath.Join(t.TempDir(), "weavego.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			entries := []mesh.Entry{
				{Kind: reconcile.KindNetwork, Key: "net1", Owner: "other", Version: 1, Value: []byte(`{}`)},
				{Kind: reconcile.KindEndpoint, Key: "ep1", Owner: "other", Version: 1, Value: []byte(`{}`)},
			}
			if err := s.Put(bucketMesh, keyMesh, entries); err != nil {
				t.Fatal(err)
			}
			if err := s.Put(bucketMesh, keySavedAt, time.Now().Add(-tc.age)); err != nil {
				t.Fatal(err)
			}
			accept := func(mesh.Entry) error { return nil }
			m, err := mesh.New(mesh.Config{Name: "self", BindAddr: "127.0.0.1", BindPort: -1,
				AdvertiseAddr: netip.AddrFrom4([4]byte{127, 0, 0, 1}), Logger: slog.New(slog.DiscardHandler), TombstoneTTL: ttl,
				Validators: map[string]func(mesh.Entry) error{reconcile.KindNetwork: accept, reconcile.KindEndpoint: accept}})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			stale := restoreMesh(s, m, ttl, slog.New(slog.DiscardHandler))
			_, hasNet := m.Get(reconcile.KindNetwork, "net1")
			_, hasEP := m.Get(reconcile.KindEndpoint, "ep1")
			if stale != tc.wantStale || hasNet != tc.wantNet || !hasEP {
				t.Errorf("stale=%v net=%v endpoint=%v; want stale=%v net=%v endpoint=true", stale, hasNet, hasEP, tc.wantStale, tc.wantNet)
			}
		})
	}
}
