// Package controltest serves the control API over a fake daemon, on a
// control and a status socket in a test's temporary directory, for the
// tests of the control server and of its client.
//
// The fake daemon: this host is h1; h2 is a member; "gone" holds address
// space; Unreachable cannot be joined; SettingPeer is in PEERS; the ring
// starts with Key(1).
package controltest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/weavego/weavego/ipalloc"
	"github.com/weavego/weavego/mesh"
	"github.com/weavego/weavego/plugin/control"
	"github.com/weavego/weavego/plugin/keyring"
	"github.com/weavego/weavego/plugin/status"
	"github.com/weavego/weavego/reconcile"
)

// Addresses of the fake daemon's peers.
const (
	Unreachable = "10.9.9.9:6783"
	SettingPeer = "10.0.0.5:6783"
)

// Key is a cluster key made of 32 bytes b.
func Key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

// Server is a control API on a control and a status socket.
type Server struct {
	Socket, StatusSocket string
	*Daemon
}

// Options change the fake daemon.
type Options struct {
	// Open is a cluster without a key (INSECURE_OPEN=true).
	Open bool
	// Refusing is the refusing plugin: no mesh, no address space.
	Refusing bool
}

// Start serves a control API over a new Daemon until the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	dir := t.TempDir()
	s := &Server{Socket: filepath.Join(dir, control.SocketName), StatusSocket: filepath.Join(dir, control.StatusSocketName),
		Daemon: &Daemon{ring: keyring.NewMemRing([][]byte{Key(1)})}}
	d := control.Deps{Status: s.Daemon, SaveRing: s.saveRing, Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "weavego_test_metric 1\n")
	})}
	if !o.Open {
		d.Keys = s.Daemon
	}
	if !o.Refusing {
		d.Mesh, d.Saved, d.Alloc = fakeMesh{s.Daemon}, fakeSaved{s.Daemon}, fakeAlloc{s.Daemon}
		d.RotateWireGuard = s.rotateWireGuard
	}
	srv := control.New(control.Config{SettingPeers: []string{SettingPeer}, Logger: slog.New(slog.DiscardHandler)}, d)
	socks, err := srv.Open(s.Socket, "", strconv.Itoa(os.Getgid()))
	if err != nil {
		t.Fatal(err)
	}
	for _, sock := range socks {
		go func() { _ = sock.Serve() }()
		t.Cleanup(func() { _ = sock.Shutdown(context.Background()) })
	}
	return s
}

// Daemon is the fake daemon behind a Server: what the commands changed.
type Daemon struct {
	// mu guards the fields below, which the handlers change.
	mu      sync.Mutex
	ring    *keyring.MemRing
	saved   [][]byte
	removed []string
	targets []string // the mesh's join targets
	kept    []string // the saved peers
	wgKeys  int      // WireGuard key pairs made: WGKey(wgKeys) is the current one
}

// WGKey is the name of the fake daemon's n-th WireGuard public key.
func WGKey(n int) string { return "wg-public-" + strconv.Itoa(n) }

// rotateWireGuard replaces the fake WireGuard key pair.
func (d *Daemon) rotateWireGuard() (old, cur string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.wgKeys++
	return WGKey(d.wgKeys - 1), WGKey(d.wgKeys), nil
}

// WireGuardKeys is how many times the WireGuard key pair was replaced.
func (d *Daemon) WireGuardKeys() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.wgKeys
}

var (
	_ control.StatusSource = (*Daemon)(nil)
	_ control.Ring         = (*Daemon)(nil)
	_ control.Mesh         = fakeMesh{}
	_ control.SavedPeers   = fakeSaved{}
	_ control.Allocator    = fakeAlloc{}
)

// Report is the status of host h1.
func (d *Daemon) Report() status.Report {
	return status.Report{Version: "test", Cluster: reconcile.Status{Self: "h1"},
		Security: status.Security{Mode: keyring.ModeKey, Keys: len(d.Keys()), GossipAddr: "10.0.0.1:6783"}}
}

// Keys returns the ring's keys.
func (d *Daemon) Keys() [][]byte { return lock(d, d.ring.Keys) }

// InstallKey installs a key in the ring.
func (d *Daemon) InstallKey(k []byte) error { return lock1(d, d.ring.InstallKey, k) }

// UseKey makes a key primary.
func (d *Daemon) UseKey(k []byte) error { return lock1(d, d.ring.UseKey, k) }

// RemoveKey removes a key from the ring.
func (d *Daemon) RemoveKey(k []byte) error { return lock1(d, d.ring.RemoveKey, k) }

func (d *Daemon) saveRing(keys [][]byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.saved = keys
	return nil
}

// Saved returns the ring last saved, nil if none was.
func (d *Daemon) Saved() [][]byte { return lock(d, func() [][]byte { return d.saved }) }

// Removed returns the hosts whose address space was taken over.
func (d *Daemon) Removed() []string {
	return lock(d, func() []string { return slices.Clone(d.removed) })
}

// Targets returns the mesh's join targets.
func (d *Daemon) Targets() []string {
	return lock(d, func() []string { return slices.Clone(d.targets) })
}

// Kept returns the saved peers.
func (d *Daemon) Kept() []string { return lock(d, func() []string { return slices.Clone(d.kept) }) }

func lock[T any](d *Daemon, f func() T) T {
	d.mu.Lock()
	defer d.mu.Unlock()
	return f()
}

func lock1(d *Daemon, f func([]byte) error, k []byte) error {
	return lock(d, func() error { return f(k) })
}

// fakeMesh knows h1 and h2 and joins every address but Unreachable.
type fakeMesh struct{ d *Daemon }

func (m fakeMesh) Peers() []mesh.Peer { return []mesh.Peer{{Name: "h1"}, {Name: "h2"}} }
func (m fakeMesh) Members() int       { return 2 }

func (m fakeMesh) Connect(_ context.Context, peer string) (string, error) {
	addr, err := mesh.NormalizePeer(peer)
	if err != nil {
		return "", err
	}
	m.d.mu.Lock()
	defer m.d.mu.Unlock()
	if !slices.Contains(m.d.targets, addr) {
		m.d.targets = append(m.d.targets, addr)
	}
	if addr == Unreachable {
		return addr, errors.New("join " + addr + ": i/o timeout")
	}
	return addr, nil
}

func (m fakeMesh) Forget(peer string) (string, bool, error) {
	addr, err := mesh.NormalizePeer(peer)
	if err != nil {
		return "", false, err
	}
	m.d.mu.Lock()
	defer m.d.mu.Unlock()
	n := len(m.d.targets)
	m.d.targets = slices.DeleteFunc(m.d.targets, func(s string) bool { return s == addr })
	return addr, len(m.d.targets) != n, nil
}

type fakeSaved struct{ d *Daemon }

func (s fakeSaved) Change(f func([]string) []string) error {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	s.d.kept = f(slices.Clone(s.d.kept))
	return nil
}

// fakeAlloc holds the address space of h1 and "gone".
type fakeAlloc struct{ d *Daemon }

func (a fakeAlloc) Status() ipalloc.Status {
	return ipalloc.Status{Pools: []ipalloc.PoolStatus{{Hosts: []ipalloc.HostShare{{Host: "h1"}, {Host: "gone"}}}}}
}

func (a fakeAlloc) RemovePeer(_ context.Context, host string) error {
	a.d.mu.Lock()
	defer a.d.mu.Unlock()
	a.d.removed = append(a.d.removed, host)
	return nil
}
