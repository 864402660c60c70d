package nsrun

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/vishvananda/netns"
)

func TestLifecycle(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "n1")
	host, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	var inside netns.NsHandle
	if err := Create(path, func() (err error) { inside, err = netns.Get(); return err }); err != nil {
		t.Fatal(err)
	}
	defer inside.Close()
	if inside.Equal(host) {
		t.Fatal("setup ran in the caller's namespace")
	}
	if pinned, err := IsPinned(path); err != nil || !pinned {
		t.Fatalf("IsPinned = %v, %v", pinned, err)
	}
	ns, err := Open(path)
	if err != nil || !ns.Equal(inside) {
		t.Fatalf("Open = %v, %v; want the namespace setup ran in", ns, err)
	}
	ns.Close()
	var seen netns.NsHandle
	if err := Do(path, func() (err error) { seen, err = netns.Get(); return err }); err != nil {
		t.Fatal(err)
	}
	defer seen.Close()
	if !seen.Equal(inside) {
		t.Error("Do ran outside the namespace")
	}
	if now, _ := netns.Get(); !now.Equal(host) {
		t.Error("the caller's thread left its namespace")
	}
	if err := Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open after Remove = %v, want ErrNotExist", err)
	}
	if err := Remove(path); err != nil {
		t.Errorf("second Remove: %v", err)
	}
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(plain); !errors.Is(err, ErrNotPinned) {
		t.Errorf("Open of a plain file = %v, want ErrNotPinned", err)
	}
}

// TestMainThreadKeepsItsNamespace: the main thread's namespace is the one /proc/<pid>/ns/net shows, the one
// tools (and Docker's users) take for the process's. Namespace work that lands on the main thread must leave
// it where it was; the Go runtime cannot discard that thread, so a goroutine that exits locked on it keeps
// it, in whatever namespace it entered, for the life of the process.
func TestMainThreadKeepsItsNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	mainNS := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), os.Getpid())
	want, err := os.Readlink(mainNS)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for i := range 300 {
		path := filepath.Join(dir, fmt.Sprint("n", i))
		if err := Create(path, nil); err != nil {
			t.Fatal(err)
		}
		if err := Do(path, func() error { return nil }); err != nil {
			t.Fatal(err)
		}
		if err := Remove(path); err != nil {
			t.Fatal(err)
		}
		if got, err := os.Readlink(mainNS); err != nil || got != want {
			t.Fatalf("after %d namespaces the main thread is in %s (%v), want %s", i+1, got, err, want)
		}
	}
}
