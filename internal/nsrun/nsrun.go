// Package nsrun creates network namespaces pinned by a bind mount and runs
// code inside them.
//
// # Design
//
// A network namespace is entered only by a fresh goroutine locked to its OS
// thread and never unlocked: when the goroutine returns, the Go runtime
// discards the thread, so no other goroutine can ever run in the namespace
// by accident and no thread has to be switched back. The main thread, which
// the runtime keeps, never enters one. Sockets opened inside
// stay in the namespace for their whole life, whatever thread uses them.
// The package knows nothing of weavego networks; callers choose the paths.
package nsrun

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ErrNotPinned is returned by Open when the path exists but holds no
// namespace (a plain file left after its bind mount went away).
var ErrNotPinned = errors.New("no network namespace mounted there")

// onThread runs f on a new goroutine locked to a thread that is discarded
// afterwards, and waits for it.
//
// The main thread is the exception: the runtime never discards it, it parks
// it for good, in whatever namespace f left it. That would keep a removed
// network's namespace, and every device in it, alive with the process, and
// /proc/<pid>/ns/net (the main thread's) would name it as the plugin's. So a
// goroutine that lands on the main thread holds it and runs f on another:
// no goroutine can be scheduled on a thread locked to another one.
func onThread(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if unix.Gettid() == unix.Getpid() {
			errc <- onThread(f)
			runtime.UnlockOSThread() // f did not run here: the main thread is as it was
			return
		}
		errc <- f()
	}()
	return <-errc
}

// Do runs f inside the network namespace pinned at path.
func Do(path string, f func() error) error {
	return onThread(func() error {
		ns, err := netns.GetFromPath(path)
		if err != nil {
			return fmt.Errorf("open network namespace %s: %w", path, err)
		}
		defer ns.Close()
		if err := netns.Set(ns); err != nil {
			return fmt.Errorf("enter network namespace %s: %w", path, err)
		}
		return f()
	})
}

// Create makes a new network namespace and pins it at path (a bind mount
// onto an empty file it creates), then runs setup inside it (nil: nothing).
// The namespace lives until Remove, even with no process in it.
func Create(path string, setup func() error) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o444)
	if err != nil {
		return fmt.Errorf("create pin for network namespace %s: %w", path, err)
	}
	f.Close()
	err = onThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("new network namespace: %w", err)
		}
		if err := unix.Mount("/proc/thread-self/ns/net", path, "none", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("pin network namespace at %s: %w", path, err)
		}
		if setup != nil {
			return setup()
		}
		return nil
	})
	if err != nil {
		_ = Remove(path)
	}
	return err
}

// Pin pins the namespace of the open handle ns at path again, for when its
// bind mount went away while the namespace lived on (Docker unmounts a
// plugin's propagated mount when it stops, even while a live-restored plugin
// keeps running).
func Pin(ns netns.NsHandle, path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o444)
	if err != nil {
		return fmt.Errorf("create pin for network namespace %s: %w", path, err)
	}
	f.Close()
	src := fmt.Sprintf("/proc/self/fd/%d", int(ns))
	if err := unix.Mount(src, path, "none", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("pin network namespace at %s again: %w", path, err)
	}
	return nil
}

// Open returns a handle of the namespace pinned at path; the caller closes
// it. A missing path is os.ErrNotExist; a path with no namespace mounted on
// it is ErrNotPinned.
func Open(path string) (netns.NsHandle, error) {
	pinned, err := IsPinned(path)
	if err != nil {
		return netns.None(), err
	}
	if !pinned {
		return netns.None(), fmt.Errorf("%s: %w", path, ErrNotPinned)
	}
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return netns.None(), fmt.Errorf("open network namespace %s: %w", path, err)
	}
	return ns, nil
}

// IsPinned reports whether a network namespace is mounted at path. A
// missing path is an error wrapping os.ErrNotExist.
func IsPinned(path string) (bool, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false, fmt.Errorf("look at %s: %w", path, err)
	}
	return st.Type == unix.NSFS_MAGIC, nil
}

// Remove unmounts the pin at path and deletes the file. The namespace and
// every device in it go away once nothing else holds it. A missing path is
// not an error.
func Remove(path string) error {
	err := unix.Unmount(path, unix.MNT_DETACH)
	if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unpin network namespace %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove pin %s: %w", path, err)
	}
	return nil
}
