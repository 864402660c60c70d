package main

import (
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/weavego/weavego/driver"
	"github.com/weavego/weavego/internal/statefile"
	"github.com/weavego/weavego/ipalloc"
	"github.com/weavego/weavego/mesh"
	"github.com/weavego/weavego/mesh/meshtest"
	"github.com/weavego/weavego/reconcile"
)

// previousStateFile was written by the release before this layout of the
// state file (7a1995c): a host of a two-host cluster with network net1, one
// container on it and a peer added with `weavego connect 10.213.0.99`.
const previousStateFile = "testdata/state-previous-release.db"

// TestPreviousReleaseStateFile opens a state file of the previous release
// and reads every bucket through the accessor of its owner: an upgrade
// keeps what the host saved.
func TestPreviousReleaseStateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "weavego.db")
	copyFile(t, previousStateFile, path)
	s, err := statefile.Open(path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer s.Close()
	if unknown, err := s.Check(); err != nil || len(unknown) > 0 {
		t.Errorf("buckets no owner lists: %v (%v)", unknown, err)
	}

	saved := s.For(statefile.OwnerMesh)
	name, err := mesh.LoadOrMakeName(saved, "not-the-saved-name")
	if err != nil || name == "" || name[:len("not-the")] == "not-the" {
		t.Fatalf("peer name %q, %v: not the saved one", name, err)
	}
	peers, err := mesh.NewSavedPeers(saved).Load()
	if err != nil || !slices.Contains(peers, "10.213.0.99:6783") {
		t.Errorf("saved peers %v, %v; want 10.213.0.99:6783 among them", peers, err)
	}
	if !mesh.SavedFromOthers(saved, name) {
		t.Error("the saved map holds no entry of the other host")
	}
	m, err := mesh.New(mesh.Config{Name: name, BindAddr: "127.0.0.1", BindPort: -1,
		AdvertiseAddr: netip.AddrFrom4([4]byte{127, 0, 0, 1}), Logger: slog.New(slog.DiscardHandler),
		Validators: entryValidators()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	// The file is older than the tombstone lifetime, so it is restored as a
	// stale state; no kind is left out here, to read every entry.
	if stale := m.RestoreSaved(saved); !stale {
		t.Error("a state saved long ago was not reported stale")
	}
	if st := m.Stats(); st.Entries == 0 || st.Rejected > 0 || st.NotUnderstood > 0 {
		t.Errorf("restored map: %d entries, %d rejected, %d not understood", st.Entries, st.Rejected, st.NotUnderstood)
	}
	if len(m.List(reconcile.KindNetwork)) != 1 || len(m.List(reconcile.KindEndpoint)) == 0 {
		t.Errorf("restored %d networks and %d endpoints; want net1 and its container",
			len(m.List(reconcile.KindNetwork)), len(m.List(reconcile.KindEndpoint)))
	}

	d, err := driver.New(driver.Config{}, nil, s.For(statefile.OwnerDriver), nil)
	if err != nil {
		t.Fatalf("driver: %v", err)
	}
	if len(d.Networks()) != 1 || len(d.Endpoints()) != 1 {
		t.Errorf("driver loaded %d networks and %d endpoints; want 1 and 1", len(d.Networks()), len(d.Endpoints()))
	}

	a, err := ipalloc.New(ipalloc.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
		s.For(statefile.OwnerIPAlloc).DB(), meshtest.New(meshtest.Config{}).Peer(name))
	if err != nil {
		t.Fatalf("allocator: %v", err)
	}
	var used uint64
	for _, p := range a.Status().Pools {
		for _, h := range p.Hosts {
			if h.Host == name {
				used += h.Used
			}
		}
	}
	if used == 0 {
		t.Errorf("the allocator's saved leases were not loaded: %+v", a.Status())
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
