package statefile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// goodFile makes a state file with some data and returns its bytes.
func goodFile(t *testing.T) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "good.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		if err := s.For(OwnerDriver).Put(DriverNetworks, strings.Repeat("k", i%50+1)+string(rune('a'+i%26)), strings.Repeat("v", 300)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOpenRefusesBadFilesWithoutPanic(t *testing.T) {
	good := goodFile(t)
	garbage := bytes.Repeat([]byte{0xa5, 0x17, 0x00, 0xff}, len(good)/4)
	corruptData := bytes.Clone(good)
	for i := 4 * 4096; i < len(corruptData); i += 7 { // keep the meta pages, damage the rest
		corruptData[i] ^= 0x5a
	}
	corruptMeta := bytes.Clone(good)
	for i := 16; i < 200; i++ {
		corruptMeta[i] ^= 0xff
		corruptMeta[4096+i] ^= 0xff
	}
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"garbage", garbage, ErrDamaged},
		{"truncated to 100 bytes", good[:100], ErrDamaged},
		{"truncated to half", good[:len(good)/2], ErrDamaged},
		{"truncated to the meta pages", good[:2*4096], ErrDamaged},
		{"truncated to a third", good[:len(good)/3], ErrDamaged},
		{"damaged pages", corruptData, ErrDamaged},
		{"damaged meta pages", corruptMeta, ErrDamaged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "weavego.db")
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Open(path)
			if err == nil {
				// A damage bbolt cannot see must still read without panicking.
				_ = s.For(OwnerDriver).ForEach(DriverNetworks, func(string, []byte) error { return nil })
				s.Close()
				t.Skipf("bbolt accepted this file")
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") || !strings.Contains(msg, path) || !strings.Contains(msg, "move it away") {
				t.Errorf("error is not one line naming the file and what to do: %q", msg)
			}
		})
	}
}

// A file cut at any page leaves bbolt reading pages past its end through the memory map: that must be a
// refusal, not a fault that stops the process (before: "fatal error: fault" in bbolt's freelist read).
func TestOpenTruncatedAtEveryPage(t *testing.T) {
	good := goodFile(t)
	for n := 2 * 4096; n < len(good); n += 4096 {
		path := filepath.Join(t.TempDir(), "weavego.db")
		if err := os.WriteFile(path, good[:n], 0o600); err != nil {
			t.Fatal(err)
		}
		if s, err := Open(path); err == nil {
			s.Close()
		} else if !errors.Is(err, ErrDamaged) {
			t.Fatalf("cut at %d bytes: %v, want ErrDamaged", n, err)
		}
	}
}

func TestOpenRefusesForeignFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "weavego.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("other")); return err })
	db.Close()
	if _, err := Open(path); !errors.Is(err, ErrForeign) || !strings.Contains(err.Error(), path) {
		t.Fatalf("got %v, want ErrForeign naming %s", err, path)
	}
}

func TestWriteErrorKeepsLastState(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "weavego.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.For(OwnerDriver).Put(DriverNetworks, "k", "v1"); err != nil {
		t.Fatal(err)
	}
	err = s.writeErr("b", "k", &os.PathError{Op: "write", Path: s.path, Err: syscall.ENOSPC})
	if err == nil || !strings.Contains(err.Error(), "disk is full") || !strings.Contains(err.Error(), "last saved state is kept") {
		t.Fatalf("full disk error not clear: %v", err)
	}
	var v string
	if ok, err := s.For(OwnerDriver).Get(DriverNetworks, "k", &v); !ok || err != nil || v != "v1" {
		t.Fatalf("last state lost: %v %v %q", ok, err, v)
	}
}

// A full state disk (a small tmpfs) gives a clear error and the file keeps
// its last good state. Needs root to mount.
func TestFullDiskKeepsLastState(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=256k"); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	defer syscall.Unmount(dir, syscall.MNT_DETACH)
	path := filepath.Join(dir, "weavego.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.For(OwnerDriver).Put(DriverNetworks, "first", "kept"); err != nil {
		t.Fatal(err)
	}
	var werr error
	for i := 0; i < 10000 && werr == nil; i++ {
		werr = s.For(OwnerDriver).Put(DriverNetworks, "k"+strconv.Itoa(i), strings.Repeat("x", 4000))
	}
	if werr == nil || !strings.Contains(werr.Error(), "disk is full") || !strings.Contains(werr.Error(), path) {
		t.Fatalf("full disk: got %v, want a clear error naming %s", werr, path)
	}
	s.Close()
	s, err = Open(path)
	if err != nil {
		t.Fatalf("reopen after a full disk: %v", err)
	}
	defer s.Close()
	var v string
	if ok, err := s.For(OwnerDriver).Get(DriverNetworks, "first", &v); !ok || err != nil || v != "kept" {
		t.Fatalf("last state lost: %v %v %q", ok, err, v)
	}
}
