package ipalloc

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"

	"go.etcd.io/bbolt"
)

// TestCommitBatchFailureIsolated checks that a write that fails in a
// shared transaction fails only its own caller: the others are committed.
func TestCommitBatchFailureIsolated(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "state.db"))
	c := newCommitter(db)
	bad := errors.New("bad write")
	put := func(k string) func(*bbolt.Tx) error {
		return func(tx *bbolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("t"))
			if err != nil {
				return err
			}
			return b.Put([]byte(k), []byte("v"))
		}
	}
	ws := []*commit{
		c.enqueue("a", put("a")),
		c.enqueue("bad", func(*bbolt.Tx) error { return bad }),
		c.enqueue("b", put("b")),
	}
	errs := make([]error, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Go(func() { errs[i] = c.wait(w) })
	}
	wg.Wait()
	if errs[0] != nil || errs[2] != nil || !errors.Is(errs[1], bad) {
		t.Fatalf("errors = %v, want nil, %v, nil", errs, bad)
	}
	_ = db.View(func(tx *bbolt.Tx) error {
		for _, k := range []string{"a", "b"} {
			if tx.Bucket([]byte("t")).Get([]byte(k)) == nil {
				t.Errorf("write %s lost", k)
			}
		}
		return nil
	})
}

// TestConcurrentRequestsSaved makes many requests and releases at once and
// checks that no address is handed out twice and that what was answered is
// what a restarted allocator loads.
func TestConcurrentRequestsSaved(t *testing.T) {
	ctx := context.Background()
	a, path := soloAllocator(t)
	mustPool(t, a, PoolRequest{Subnet: "10.7.0.0/24"})
	var mu sync.Mutex
	held := map[netip.Addr]bool{}
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			ip, err := a.RequestAddress(ctx, AddressRequest{PoolID: "10.7.0.0/24"})
			if err != nil {
				t.Error(err)
				return
			}
			if i%2 == 1 {
				if err := a.ReleaseAddress(ctx, "10.7.0.0/24", ip.Addr()); err != nil {
					t.Error(err)
				}
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if held[ip.Addr()] {
				t.Errorf("address %s handed out twice", ip)
			}
			held[ip.Addr()] = true
		})
	}
	wg.Wait()
	a.disk.db.Close() // as after kill -9: commits are durable when they return
	b, err := New(Config{}, openDB(t, path), solo("h1"))
	if err != nil {
		t.Fatal(err)
	}
	got := b.pools["10.7.0.0/24"].leases
	if len(got) != len(held) {
		t.Errorf("%d leases loaded, %d held", len(got), len(held))
	}
	for ip := range held {
		if _, ok := got[ip]; !ok {
			t.Errorf("lease of %s lost across a restart", ip)
		}
	}
}
