package ipalloc

import (
	"context"
	"github.com/weavego/weavego/mesh/meshtest"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// openDB opens (or reopens) a bbolt file; it is closed at the end of the test.
func openDB(t testing.TB, path string) *bbolt.DB {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// solo is the replica of a host alone in an in-memory cluster of its own.
func solo(name string) ClusterMap { return meshtest.New(meshtest.Config{}).Peer(name) }

// soloAllocator is a single-host allocator on a fresh database.
func soloAllocator(t testing.TB) (*Allocator, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	a, err := New(Config{}, openDB(t, path), solo("h1"))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a, path
}

func mustPool(t testing.TB, a *Allocator, req PoolRequest) Pool {
	t.Helper()
	p, err := a.RequestPool(context.Background(), req)
	if err != nil {
		t.Fatalf("RequestPool(%+v): %v", req, err)
	}
	return p
}

func mustAddr(t testing.TB, a *Allocator, req AddressRequest) netip.Prefix {
	t.Helper()
	ip, err := a.RequestAddress(context.Background(), req)
	if err != nil {
		t.Fatalf("RequestAddress(%+v): %v", req, err)
	}
	return ip
}
