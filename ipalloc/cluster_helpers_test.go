package ipalloc

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/weavego/weavego/mesh/meshtest"
)

// testCluster runs allocators on an in-memory mesh (meshtest), each with its own bbolt file
// and Run loop.
type testCluster struct {
	t   testing.TB
	net *meshtest.Net
	dir string
	cfg Config

	// mu guards hosts.
	mu    sync.Mutex
	hosts map[string]*testHost
}

type testHost struct {
	a      *Allocator
	db     *bbolt.DB
	cancel context.CancelFunc
	done   chan struct{}
}

func newTestCluster(t testing.TB, seed uint64, cfg Config, names ...string) *testCluster {
	c := &testCluster{t: t, net: meshtest.New(meshtest.Config{Seed: seed}), dir: t.TempDir(), cfg: cfg, hosts: map[string]*testHost{}}
	if c.cfg.SpaceTimeout == 0 {
		c.cfg.SpaceTimeout = time.Second
	}
	for _, n := range names {
		c.start(n)
	}
	c.net.Sync()
	t.Cleanup(c.stopAll)
	return c
}

// start opens host name's state (new or saved) and runs its loop.
func (c *testCluster) start(name string) *Allocator {
	c.t.Helper()
	c.net.Start(name)
	db, err := bbolt.Open(filepath.Join(c.dir, name+".db"), 0o600, &bbolt.Options{Timeout: time.Second, NoSync: true})
	if err != nil {
		c.t.Fatalf("open state of %s: %v", name, err)
	}
	a, err := New(c.cfg, db, c.net.Peer(name))
	if err != nil {
		c.t.Fatalf("start %s: %v", name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &testHost{a: a, db: db, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(h.done); a.Run(ctx) }()
	c.mu.Lock()
	c.hosts[name] = h
	c.mu.Unlock()
	return a
}

// stop kills host name as kill -9 would: its replica forgets everything,
// its bbolt file keeps what was committed.
func (c *testCluster) stop(name string) {
	c.mu.Lock()
	h := c.hosts[name]
	delete(c.hosts, name)
	c.mu.Unlock()
	if h == nil {
		return
	}
	c.net.Kill(name)
	h.cancel()
	<-h.done
	h.a.mu.Lock() // wait for calls in flight
	h.db.Close()
	h.a.mu.Unlock()
}

func (c *testCluster) stopAll() {
	c.mu.Lock()
	var names []string
	for n := range c.hosts {
		names = append(names, n)
	}
	c.mu.Unlock()
	for _, n := range names {
		c.stop(n)
	}
}

func (c *testCluster) host(name string) *Allocator {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h := c.hosts[name]; h != nil {
		return h.a
	}
	return nil
}

// settle lets gossip and every Run loop converge.
func (c *testCluster) settle() {
	for range 3 {
		c.net.Sync()
		c.mu.Lock()
		var as []*Allocator
		for _, h := range c.hosts {
			as = append(as, h.a)
		}
		c.mu.Unlock()
		for _, a := range as {
			a.Sync()
		}
	}
}
