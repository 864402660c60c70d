package keyring

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func k(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestResolveKeys(t *testing.T) {
	gen := func() ([]byte, error) { return k(7), nil }
	tests := []struct {
		name    string
		src     Source
		saved   [][]byte
		want    Plan
		wantErr error
	}{
		{"open", Source{Open: true}, [][]byte{k(1)}, Plan{Mode: ModeOpen}, nil},
		{"first host generates", Source{}, nil, Plan{Keys: [][]byte{k(7)}, Mode: ModeKey, Save: true, Generated: true}, nil},
		{"joining host without key", Source{Joining: true}, nil, Plan{}, ErrNoKey},
		{"joining host with saved ring", Source{Joining: true}, [][]byte{k(1)}, Plan{Keys: [][]byte{k(1)}, Mode: ModeKey}, nil},
		{"key, no ring", Source{Key: k(2), Joining: true}, nil, Plan{Keys: [][]byte{k(2)}, Mode: ModeKey, Save: true}, nil},
		{"key already saved", Source{Key: k(2)}, [][]byte{k(1), k(2)}, Plan{Keys: [][]byte{k(1), k(2)}, Mode: ModeKey}, nil},
		{"new key joins ring, not primary", Source{Key: k(3)}, [][]byte{k(1)}, Plan{Keys: [][]byte{k(1), k(3)}, Mode: ModeKey, Save: true}, nil},
		{"password", Source{Key: k(4), Password: true}, nil, Plan{Keys: [][]byte{k(4)}, Mode: ModePassword, Save: true}, nil},
		{"key replaces a generated primary", Source{Key: k(3), Joining: true, Generated: k(7)}, [][]byte{k(7)},
			Plan{Keys: [][]byte{k(3), k(7)}, Mode: ModeKey, Save: true, Promoted: true}, nil},
		{"generated key no longer primary", Source{Key: k(3), Generated: k(7)}, [][]byte{k(1), k(7)},
			Plan{Keys: [][]byte{k(1), k(7), k(3)}, Mode: ModeKey, Save: true}, nil},
		{"upgraded password host keeps the legacy key primary", Source{Key: k(4), Password: true, Legacy: k(6)}, nil,
			Plan{Keys: [][]byte{k(6), k(4)}, Mode: ModeKey, Save: true}, nil},
		{"password rotated away", Source{Key: k(4), Password: true}, [][]byte{k(5), k(4)}, Plan{Keys: [][]byte{k(5), k(4)}, Mode: ModeKey}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Resolve(tt.src, tt.saved, gen)
			if !errors.Is(err, tt.wantErr) || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Resolve = %+v, %v; want %+v, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestKeyringFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), RingFile)
	if keys, err := LoadRing(path); err != nil || keys != nil {
		t.Fatalf("missing file: %v, %v", keys, err)
	}
	want := [][]byte{k(1), k(2)}
	if err := SaveRing(path, want); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("keyring file mode %v, %v", fi.Mode(), err)
	}
	got, err := LoadRing(path)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("loaded %v, %v", got, err)
	}
	for _, bad := range []string{"not json", `["short"]`} {
		_ = os.WriteFile(path, []byte(bad), 0o600)
		if _, err := LoadRing(path); err == nil {
			t.Errorf("loaded %q", bad)
		}
	}
}

func TestGeneratedMarker(t *testing.T) {
	path := filepath.Join(t.TempDir(), GeneratedFile)
	if err := RecordGenerated(path, Plan{Keys: [][]byte{k(7)}, Generated: true}); err != nil {
		t.Fatal(err)
	}
	if got := LoadGenerated(path); !bytes.Equal(got, k(7)) {
		t.Fatalf("LoadGenerated = %x, want the generated key", got)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("marker file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	if err := RecordGenerated(path, Plan{Promoted: true}); err != nil {
		t.Fatal(err)
	}
	if got := LoadGenerated(path); got != nil {
		t.Fatalf("after promotion the marker still says %x", got)
	}
}
