package statefile

import (
	"path/filepath"
	"slices"
	"testing"
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
	if ok, err := s.Get("nets", "a", &got); ok || err != nil {
		t.Fatalf("Get from a missing bucket = %v, %v", ok, err)
	}
	if err := s.Delete("nets", "a"); err != nil {
		t.Fatalf("Delete from a missing bucket: %v", err)
	}
	for i, k := range []string{"b", "a", "c"} {
		if err := s.Put("nets", k, rec{Name: k, N: i}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put("nets", "b", rec{Name: "b2", N: 9}); err != nil { // replaces
		t.Fatal(err)
	}
	if err := s.Delete("nets", "c"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	if s, err = Open(path); err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if ok, err := s.Get("nets", "b", &got); !ok || err != nil || got != (rec{Name: "b2", N: 9}) {
		t.Fatalf("Get b = %+v, %v, %v", got, ok, err)
	}
	if ok, _ := s.Get("nets", "c", &got); ok {
		t.Fatal("deleted key still there")
	}
	var keys []string
	if err := s.ForEach("nets", func(k string, _ []byte) error { keys = append(keys, k); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, []string{"a", "b"}) {
		t.Fatalf("ForEach keys %v, want [a b] in order", keys)
	}
	if err := s.ForEach("none", func(string, []byte) error { t.Fatal("called"); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.Put("nets", "bad", func() {}); err == nil {
		t.Fatal("a value JSON cannot encode was stored")
	}
}
