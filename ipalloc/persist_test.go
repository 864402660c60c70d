package ipalloc

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"testing"

	"go.etcd.io/bbolt"
)

func TestPersistenceAcrossReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	db := openDB(t, path)
	a, err := New(Config{}, db, solo("h1"))
	if err != nil {
		t.Fatal(err)
	}
	mustPool(t, a, PoolRequest{Subnet: "10.5.0.0/29"})
	mustPool(t, a, PoolRequest{Subnet: "10.5.0.0/29"})
	mustAddr(t, a, AddressRequest{PoolID: "10.5.0.0/29", Gateway: true, IP: netip.MustParseAddr("10.5.0.6")})
	first := mustAddr(t, a, AddressRequest{PoolID: "10.5.0.0/29"})
	mustAddr(t, a, AddressRequest{PoolID: "10.5.0.0/29", IP: netip.MustParseAddr("10.5.0.4")})
	def := mustPool(t, a, PoolRequest{})
	db.Close() // as after kill -9: bbolt commits are durable when they return

	b, err := New(Config{}, openDB(t, path), solo("h1"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{first.String(): true, "10.5.0.4/29": true}
	for range 3 { // .1 (the released default gateway), .3, .5
		ip := mustAddr(t, b, AddressRequest{PoolID: "10.5.0.0/29"})
		if seen[ip.String()] || ip.Addr() == netip.MustParseAddr("10.5.0.6") {
			t.Fatalf("address %s handed out twice across a restart", ip)
		}
		seen[ip.String()] = true
	}
	if _, err := b.RequestAddress(ctx, AddressRequest{PoolID: "10.5.0.0/29"}); !errors.Is(err, ErrPoolExhausted) {
		t.Fatalf("err = %v, want ErrPoolExhausted", err)
	}
	if p := mustPool(t, b, PoolRequest{}); p.ID == def.ID {
		t.Fatalf("default subnet %s handed out twice across a restart", p.ID)
	}
	// Two references were saved: one release keeps the pool open.
	if err := b.ReleasePool(ctx, "10.5.0.0/29"); err != nil {
		t.Fatal(err)
	}
	if err := b.ReleaseAddress(ctx, "10.5.0.0/29", first.Addr()); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptStateDetected(t *testing.T) {
	tests := []struct {
		name    string
		host    string
		cfg     Config
		corrupt func(tx *bbolt.Tx) error
		wantErr error
	}{
		{name: "range changed", host: "h1", cfg: Config{Range: "10.40.0.0/16"}, wantErr: ErrRangeMismatch},
		{name: "other host", host: "h2", cfg: Config{}, wantErr: ErrCorruptState},
		{name: "garbage pool", host: "h1", cfg: Config{}, wantErr: ErrCorruptState, corrupt: func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketPools).Put([]byte("10.5.0.0/29"), []byte("{not json"))
		}},
		{name: "orphan lease", host: "h1", cfg: Config{}, wantErr: ErrCorruptState, corrupt: func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketLeases).Put(childKey("10.6.0.0/24", "10.6.0.2"), []byte("{}"))
		}},
		{name: "lease outside pool", host: "h1", cfg: Config{}, wantErr: ErrCorruptState, corrupt: func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketLeases).Put(childKey("10.5.0.0/29", "10.5.0.9"), []byte("{}"))
		}},
		{name: "unknown schema", host: "h1", cfg: Config{}, wantErr: ErrCorruptState, corrupt: func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketMeta).Put([]byte("schema"), []byte("99"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			db := openDB(t, path)
			a, err := New(Config{}, db, solo("h1"))
			if err != nil {
				t.Fatal(err)
			}
			mustPool(t, a, PoolRequest{Subnet: "10.5.0.0/29"})
			mustAddr(t, a, AddressRequest{PoolID: "10.5.0.0/29"})
			if tt.corrupt != nil {
				if err := db.Update(tt.corrupt); err != nil {
					t.Fatal(err)
				}
			}
			var before []byte
			db.View(func(tx *bbolt.Tx) error {
				before = append([]byte(nil), tx.Bucket(bucketMeta).Get([]byte("range"))...)
				return nil
			})
			if _, err := New(tt.cfg, db, solo(tt.host)); !errors.Is(err, tt.wantErr) {
				t.Fatalf("New: err = %v, want %v", err, tt.wantErr)
			}
			db.View(func(tx *bbolt.Tx) error {
				if got := tx.Bucket(bucketMeta).Get([]byte("range")); string(got) != string(before) {
					t.Errorf("state overwritten: range %q, was %q", got, before)
				}
				return nil
			})
		})
	}
}
