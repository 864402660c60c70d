package main

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/weavego/weavego/internal/statefile"
)

func TestMergePeers(t *testing.T) {
	tests := []struct {
		name           string
		setting, saved []string
		want           []string
	}{
		{"none", nil, nil, nil},
		{"setting only", []string{"10.0.0.2"}, nil, []string{"10.0.0.2:6783"}},
		{"saved added", []string{"10.0.0.2"}, []string{"10.0.0.3:7000"}, []string{"10.0.0.2:6783", "10.0.0.3:7000"}},
		{"same peer once", []string{"10.0.0.2"}, []string{"10.0.0.2:6783"}, []string{"10.0.0.2:6783"}},
		{"bad saved skipped", nil, []string{"a b", "h1"}, []string{"h1:6783"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mergePeers(tt.setting, tt.saved); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestRuntimePeersKept: the list survives closing and reopening the state.
func TestRuntimePeersKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "weavego.db")
	s, err := statefile.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	r := &runtimePeers{store: s}
	if err := r.change(func(l []string) []string { return append(l, "10.0.0.3:6783", "10.0.0.4:6783") }); err != nil {
		t.Fatal(err)
	}
	if err := r.change(func(l []string) []string { return l[1:] }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = statefile.Open(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := (&runtimePeers{store: s}).load()
	if err != nil || !slices.Equal(got, []string{"10.0.0.4:6783"}) {
		t.Errorf("after reopen: %v, %v; want [10.0.0.4:6783]", got, err)
	}
}

func TestPortOf(t *testing.T) {
	for in, want := range map[string]string{"10.0.0.2:6783": "6783", "[fd00::1]:7000": "7000", "x": "6783"} {
		if got := portOf(in); got != want {
			t.Errorf("portOf(%q) = %q, want %q", in, got, want)
		}
	}
}
