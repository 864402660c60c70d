package main

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
		src     keySource
		saved   [][]byte
		want    keyPlan
		wantErr error
	}{
		{"open", keySource{open: true}, [][]byte{k(1)}, keyPlan{mode: modeOpen}, nil},
		{"first host generates", keySource{}, nil, keyPlan{keys: [][]byte{k(7)}, mode: modeKey, save: true, generated: true}, nil},
		{"joining host without key", keySource{joining: true}, nil, keyPlan{}, errNoKey},
		{"joining host with saved ring", keySource{joining: true}, [][]byte{k(1)}, keyPlan{keys: [][]byte{k(1)}, mode: modeKey}, nil},
		{"key, no ring", keySource{key: k(2), joining: true}, nil, keyPlan{keys: [][]byte{k(2)}, mode: modeKey, save: true}, nil},
		{"key already saved", keySource{key: k(2)}, [][]byte{k(1), k(2)}, keyPlan{keys: [][]byte{k(1), k(2)}, mode: modeKey}, nil},
		{"new key joins ring, not primary", keySource{key: k(3)}, [][]byte{k(1)}, keyPlan{keys: [][]byte{k(1), k(3)}, mode: modeKey, save: true}, nil},
		{"password", keySource{key: k(4), password: true}, nil, keyPlan{keys: [][]byte{k(4)}, mode: modePassword, save: true}, nil},
		{"key replaces a generated primary", keySource{key: k(3), joining: true, generated: k(7)}, [][]byte{k(7)},
			keyPlan{keys: [][]byte{k(3), k(7)}, mode: modeKey, save: true, promoted: true}, nil},
		{"generated key no longer primary", keySource{key: k(3), generated: k(7)}, [][]byte{k(1), k(7)},
			keyPlan{keys: [][]byte{k(1), k(7), k(3)}, mode: modeKey, save: true}, nil},
		{"upgraded password host keeps the legacy key primary", keySource{key: k(4), password: true, legacy: k(6)}, nil,
			keyPlan{keys: [][]byte{k(6), k(4)}, mode: modeKey, save: true}, nil},
		{"password rotated away", keySource{key: k(4), password: true}, [][]byte{k(5), k(4)}, keyPlan{keys: [][]byte{k(5), k(4)}, mode: modeKey}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resolveKeys(tt.src, tt.saved, gen)
			if !errors.Is(err, tt.wantErr) || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("resolveKeys = %+v, %v; want %+v, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestKeyringFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), keyringFile)
	if keys, err := loadKeyring(path); err != nil || keys != nil {
		t.Fatalf("missing file: %v, %v", keys, err)
	}
	want := [][]byte{k(1), k(2)}
	if err := saveKeyring(path, want); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("keyring file mode %v, %v", fi.Mode(), err)
	}
	got, err := loadKeyring(path)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("loaded %v, %v", got, err)
	}
	for _, bad := range []string{"not json", `["short"]`} {
		_ = os.WriteFile(path, []byte(bad), 0o600)
		if _, err := loadKeyring(path); err == nil {
			t.Errorf("loaded %q", bad)
		}
	}
}

func TestPasswordKey(t *testing.T) {
	a, b := passwordKey("s3cret"), passwordKey("s3cret")
	if len(a) != 32 || !bytes.Equal(a, b) || bytes.Equal(a, passwordKey("s3cret2")) {
		t.Error("passwordKey must give the same 32 bytes for the same password, others for another")
	}
}

func TestGeneratedMarker(t *testing.T) {
	path := filepath.Join(t.TempDir(), generatedFile)
	if err := recordGenerated(path, keyPlan{keys: [][]byte{k(7)}, generated: true}); err != nil {
		t.Fatal(err)
	}
	if got := loadGenerated(path); !bytes.Equal(got, k(7)) {
		t.Fatalf("loadGenerated = %x, want the generated key", got)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("marker file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	if err := recordGenerated(path, keyPlan{promoted: true}); err != nil {
		t.Fatal(err)
	}
	if got := loadGenerated(path); got != nil {
		t.Fatalf("after promotion the marker still says %x", got)
	}
}
