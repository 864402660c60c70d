package mesh

import (
	"log/slog"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/weavego/weavego/internal/statefile"
)

func openSaved(t *testing.T, path string) (*statefile.Store, Saved) {
	t.Helper()
	s, err := statefile.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return s, s.For(statefile.OwnerMesh)
}

// The peers added at run time survive closing and reopening the state file.
func TestSavedPeersKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "weavego.db")
	s, saved := openSaved(t, path)
	p := NewSavedPeers(saved)
	if err := p.Change(func(l []string) []string { return append(l, "10.0.0.3:6783", "10.0.0.4:6783") }); err != nil {
		t.Fatal(err)
	}
	if err := p.Change(func(l []string) []string { return l[1:] }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, saved = openSaved(t, path)
	defer s.Close()
	got, err := NewSavedPeers(saved).Load()
	if err != nil || !slices.Equal(got, []string{"10.0.0.4:6783"}) {
		t.Errorf("after reopen: %v, %v; want [10.0.0.4:6783]", got, err)
	}
}

// The peer name is made once and kept.
func TestLoadOrMakeNameKept(t *testing.T) {
	s, saved := openSaved(t, filepath.Join(t.TempDir(), "weavego.db"))
	defer s.Close()
	a, err := LoadOrMakeName(saved, "host1.example.org")
	if err != nil || len(a) != len("host1-")+6 || a[:6] != "host1-" {
		t.Fatalf("name %q, %v; want host1-<6 hex digits>", a, err)
	}
	if b, err := LoadOrMakeName(saved, "other"); err != nil || b != a {
		t.Errorf("second start: %q, %v; want the saved %q", b, err, a)
	}
}

// A saved map older than the tombstone lifetime is restored without its
// entries of the stale kinds (the others may have removed them meanwhile);
// a fresh one is restored whole.
func TestRestoreSavedLeavesOutStaleKinds(t *testing.T) {
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
			s, saved := openSaved(t, filepath.Join(t.TempDir(), "weavego.db"))
			defer s.Close()
			entries := []Entry{
				{Kind: "network", Key: "net1", Owner: "other", Version: 1, Value: []byte(`{}`)},
				{Kind: "endpoint", Key: "ep1", Owner: "other", Version: 1, Value: []byte(`{}`)},
			}
			if err := saved.Put(statefile.MeshSnapshot, keySnapshot, entries); err != nil {
				t.Fatal(err)
			}
			if err := saved.Put(statefile.MeshSnapshot, keySavedAt, time.Now().Add(-tc.age)); err != nil {
				t.Fatal(err)
			}
			if !SavedFromOthers(saved, "self") || SavedFromOthers(saved, "other") {
				t.Error("SavedFromOthers does not tell entries of other hosts from our own")
			}
			m, err := New(Config{Name: "self", BindAddr: "127.0.0.1", BindPort: -1,
				AdvertiseAddr: netip.AddrFrom4([4]byte{127, 0, 0, 1}), Logger: slog.New(slog.DiscardHandler), TombstoneTTL: ttl})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			stale := m.RestoreSaved(saved, "network")
			_, hasNet := m.Get("network", "net1")
			_, hasEP := m.Get("endpoint", "ep1")
			if stale != tc.wantStale || hasNet != tc.wantNet || !hasEP {
				t.Errorf("stale=%v net=%v endpoint=%v; want stale=%v net=%v endpoint=true", stale, hasNet, hasEP, tc.wantStale, tc.wantNet)
			}
			m.SaveTo(saved)
			var again []Entry
			if ok, err := saved.Get(statefile.MeshSnapshot, keySnapshot, &again); !ok || err != nil || len(again) != len(m.Snapshot()) {
				t.Errorf("SaveTo saved %d entries (%v, %v), the map holds %d", len(again), ok, err, len(m.Snapshot()))
			}
		})
	}
}
