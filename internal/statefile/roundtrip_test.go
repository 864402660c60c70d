package statefile

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"
)

type rec struct {
	Name string
	N    int
}

// What Put writes, Get, ForEach and a reopened file return; Delete and
// reads of missing buckets or keys are not errors.
func TestRoundTripSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "weavego.db") // the directory is created
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var got rec
	if ok, err := s.For(OwnerDriver).Get(DriverNetworks, "a", &got); ok || err != nil {
		t.Fatalf("Get from a missing bucket = %v, %v", ok, err)
	}
	if err := s.For(OwnerDriver).Delete(DriverNetworks, "a"); err != nil {
		t.Fatalf("Delete from a missing bucket: %v", err)
	}
	for i, k := range []string{"b", "a", "c"} {
		if err := s.For(OwnerDriver).Put(DriverNetworks, k, rec{Name: k, N: i}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.For(OwnerDriver).Put(DriverNetworks, "b", rec{Name: "b2", N: 9}); err != nil { // replaces
		t.Fatal(err)
	}
	if err := s.For(OwnerDriver).Delete(DriverNetworks, "c"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	if s, err = Open(path); err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if ok, err := s.For(OwnerDriver).Get(DriverNetworks, "b", &got); !ok || err != nil || got != (rec{Name: "b2", N: 9}) {
		t.Fatalf("Get b = %+v, %v, %v", got, ok, err)
	}
	if ok, _ := s.For(OwnerDriver).Get(DriverNetworks, "c", &got); ok {
		t.Fatal("deleted key still there")
	}
	var keys []string
	if err := s.For(OwnerDriver).ForEach(DriverNetworks, func(k string, _ []byte) error { keys = append(keys, k); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, []string{"a", "b"}) {
		t.Fatalf("ForEach keys %v, want [a b] in order", keys)
	}
	if err := s.For(OwnerDriver).ForEach(DriverEndpoints, func(string, []byte) error { t.Fatal("called"); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.For(OwnerDriver).Put(DriverNetworks, "bad", func() {}); err == nil {
		t.Fatal("a value JSON cannot encode was stored")
	}
}

// An owner reaches only its own buckets; Check names buckets no owner has.
func TestOwnersKeepToTheirBuckets(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "weavego.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.For(OwnerMesh).Put(DriverNetworks, "k", 1); !errors.Is(err, ErrNotOwner) {
		t.Errorf("mesh wrote the driver's bucket: %v", err)
	}
	if _, err := s.For(OwnerDriver).Get(MeshSnapshot, "k", new(int)); !errors.Is(err, ErrNotOwner) {
		t.Errorf("driver read the mesh's bucket: %v", err)
	}
	owners := map[string]Owner{}
	for _, b := range Buckets() {
		if o, dup := owners[b.Name]; dup {
			t.Errorf("bucket %s listed twice (%s, %s)", b.Name, o, b.Owner)
		}
		owners[b.Name] = b.Owner
		if err := s.For(b.Owner).Put(b.Name, "k", 1); err != nil {
			t.Errorf("%s cannot write its bucket %s: %v", b.Owner, b.Name, err)
		}
	}
	if err := s.For(OwnerIPAlloc).DB().Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte("stray"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if unknown, err := s.Check(); err != nil || !slices.Equal(unknown, []string{"stray"}) {
		t.Errorf("Check = %v, %v; want [stray]", unknown, err)
	}
}
