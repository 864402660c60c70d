package control

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestListen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, SocketName)
	for i := range 2 { // the second time, a stale socket is in the way
		l, err := Listen(path, "CONTROL_GROUP", "")
		if err != nil {
			t.Fatalf("listen %d: %v", i, err)
		}
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != 0o600 || fi.Mode().Type() != fs.ModeSocket {
			t.Fatalf("socket mode %v, %v; want a 0600 socket", fi.Mode(), err)
		}
		if ul, ok := l.(interface{ SetUnlinkOnClose(bool) }); ok {
			ul.SetUnlinkOnClose(false)
		}
		l.Close()
	}
	l, err := Listen(path, "STATUS_GROUP", fmt.Sprint(os.Getgid()))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode with a group %v, want 0660", fi.Mode())
	}
	other := filepath.Join(dir, "file")
	_ = os.WriteFile(other, nil, 0o600)
	if _, err := Listen(other, "CONTROL_GROUP", ""); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("listen over a regular file: %v", err)
	}
	if _, err := Listen(filepath.Join(dir, "s2"), "STATUS_GROUP", "no such group!"); err == nil ||
		!strings.Contains(err.Error(), "setting STATUS_GROUP") {
		t.Errorf("a bad group: %v", err)
	}
}

// TestListenStatus: with STATUS_GROUP the status socket is the group's
// (0660); without, there is none, and one a crash left is removed.
func TestListenStatus(t *testing.T) {
	dir := t.TempDir()
	ctl := filepath.Join(dir, SocketName)
	l, err := ListenStatus(ctl, fmt.Sprint(os.Getgid()))
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, StatusSocketName))
	if err != nil || fi.Mode().Perm() != 0o660 || fi.Mode().Type() != fs.ModeSocket {
		t.Fatalf("status socket %v, %v; want a 0660 socket", fi, err)
	}
	if ul, ok := l.(interface{ SetUnlinkOnClose(bool) }); ok {
		ul.SetUnlinkOnClose(false) // as after a crash
	}
	l.Close()
	if l, err := ListenStatus(ctl, ""); l != nil || err != nil {
		t.Fatalf("without STATUS_GROUP: %v, %v; want no socket", l, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, StatusSocketName)); !os.IsNotExist(err) {
		t.Errorf("a stale status socket is left without STATUS_GROUP: %v", err)
	}
}

func TestPortOf(t *testing.T) {
	for in, want := range map[string]string{"10.0.0.2:6783": "6783", "[fd00::1]:7000": "7000", "x": "6783"} {
		if got := portOf(in); got != want {
			t.Errorf("portOf(%q) = %q, want %q", in, got, want)
		}
	}
}
