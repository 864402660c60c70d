package reconcile

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"context"

	"github.com/weavego/weavego/driver"
	"github.com/weavego/weavego/internal/dockerapi"
	"github.com/weavego/weavego/mesh"
	"github.com/weavego/weavego/mesh/meshtest"
)

// userRemoves simulates `docker network rm` (or prune) of name on h.
func (h *host) userRemoves(name string) {
	n, _ := h.has(name)
	h.docker.mu.Lock()
	delete(h.docker.networks, name)
	h.docker.mu.Unlock()
	h.local.network(driver.Network{ID: n.ID, VNI: h.local.vni(n.ID)}, driver.Deleted)
}

// setContainers attaches count containers to name in h's engine only.
func (h *host) setContainers(name string, count int) {
	h.docker.mu.Lock()
	defer h.docker.mu.Unlock()
	n := h.docker.networks[name]
	n.Containers = map[string]dockerapi.Attachment{}
	for i := range count {
		n.Containers[string(rune('a'+i))] = dockerapi.Attachment{}
	}
	h.docker.networks[name] = n
}

func (h *host) named(t *testing.T, name string) {
	t.Helper()
	eventually(t, "the agent learned the name of "+name, func() bool {
		n, ok := h.has(name)
		if !ok {
			return false
		}
		h.agent.mu.Lock()
		defer h.agent.mu.Unlock()
		return h.agent.names[n.ID] == name
	})
}

func liveDef(w *meshtest.Net, name string) bool {
	e, ok := w.Peer("a").Get(KindNetwork, name)
	return ok && !e.Deleted
}

func TestRemoveOnIdleHostKeepsNetworkInUseElsewhere(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := meshtest.New(meshtest.Config{})
	a := newHost(t, ctx, w, "a", "192.0.2.1")
	b := newHost(t, ctx, w, "b", "192.0.2.2")
	c := newHost(t, ctx, w, "c", "192.0.2.3")
	a.userCreates("A1", "net1", "10.32.0.0/24", 100)
	for _, h := range []*host{b, c} {
		eventually(t, "net1 replicated", func() bool { _, ok := h.has("net1"); return ok })
		h.named(t, "net1")
	}
	a.local.endpoint(driver.Endpoint{ID: "ep1", NetworkID: "A1", Addr: netip.MustParsePrefix("10.32.0.2/24"),
		MAC: "02:77:0a:20:00:02"}, false)
	eventually(t, "a's endpoint known to b", func() bool { return len(b.agent.usersElsewhere(100)) == 1 })

	start := time.Now()
	b.userRemoves("net1") // as docker network prune on the idle b
	eventually(t, "net1 back on b", func() bool { _, ok := b.has("net1"); return ok })
	if d := time.Since(start); d > time.Second {
		t.Errorf("net1 came back on b after %v, want within 1s", d)
	}
	if !liveDef(w, "net1") {
		t.Fatal("the cluster definition of net1 was removed although host a uses it")
	}
	if _, ok := c.has("net1"); !ok {
		t.Fatal("net1 was removed from host c")
	}
	var kept string
	for _, n := range b.agent.Status().Networks {
		if n.Name == "net1" {
			kept = n.Kept
		}
	}
	if !strings.Contains(kept, "in use on hosts a") {
		t.Errorf("status of b says %q, want why net1 stays (in use on hosts a)", kept)
	}

	// Once no host uses it, a removal removes it everywhere.
	a.local.endpoint(driver.Endpoint{ID: "ep1", NetworkID: "A1"}, true)
	eventually(t, "a's endpoint gone", func() bool { return len(b.agent.usersElsewhere(100)) == 0 })
	b.named(t, "net1")
	b.userRemoves("net1")
	for _, h := range []*host{a, c} {
		eventually(t, "net1 removed everywhere", func() bool { _, ok := h.has("net1"); return !ok })
	}
	if liveDef(w, "net1") {
		t.Fatal("net1 still defined in the cluster")
	}
}

func TestRemovedNetworkNeverComesBack(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := meshtest.New(meshtest.Config{})
	a := newHost(t, ctx, w, "a", "192.0.2.1")
	b := newHost(t, ctx, w, "b", "192.0.2.2")
	a.userCreates("A1", "net1", "10.32.0.0/24", 100)
	eventually(t, "net1 on b", func() bool { _, ok := b.has("net1"); return ok })
	b.named(t, "net1")
	a.named(t, "net1")
	b.setContainers("net1", 1) // attached, but not yet published: a race with the removal
	a.userRemoves("net1")
	eventually(t, "tombstone", func() bool { e, ok := a.agent.rep.Get(KindNetwork, "net1"); return ok && e.Deleted })
	time.Sleep(200 * time.Millisecond)
	if _, ok := b.has("net1"); !ok {
		t.Fatal("net1 removed on b while a container is attached")
	}
	// Every host forgets the tombstone (its lifetime ends).
	w.Reap(time.Now().Add(2 * mesh.DefaultTombstoneTTL))
	time.Sleep(300 * time.Millisecond)
	if _, ok := a.agent.rep.Get(KindNetwork, "net1"); ok {
		t.Fatal("host b published again a network it did not define")
	}
	if _, ok := a.has("net1"); ok {
		t.Fatal("net1 came back on host a")
	}
	// The container leaves: b removes what the cluster no longer has.
	b.setContainers("net1", 0)
	eventually(t, "net1 removed on b", func() bool { _, ok := b.has("net1"); return !ok })
}

func TestStaleHostRemovesWhatWasRemovedMeanwhile(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := meshtest.New(meshtest.Config{})
	newHost(t, ctx, w, "b", "192.0.2.2")
	// a returns after a long absence with a network it defined, which the
	// cluster removed (and forgot) meanwhile.
	a := &host{kernel: newFakeKernel(), docker: &fakeDocker{networks: map[string]dockerapi.Network{}}, local: newFakeLocal()}
	w.Add("a", netip.MustParseAddr("192.0.2.1"))
	a.agent = New(Config{VTEP: netip.MustParseAddr("192.0.2.1"), Resync: 50 * time.Millisecond,
		Settle: 100 * time.Millisecond, StaleState: true}, Deps{Map: w.Peer("a"), Local: a.local, Kernel: a.kernel, Docker: a.docker})
	a.local.cl = a.agent
	a.docker.networks["net1"] = dockerapi.Network{ID: "A1", Name: "net1", Subnet: netip.MustParsePrefix("10.32.0.0/24")}
	a.local.network(driver.Network{ID: "A1", Subnet: netip.MustParsePrefix("10.32.0.0/24"), VNI: 100}, driver.Restored)
	go a.agent.Run(ctx)
	eventually(t, "net1 removed on the returning host", func() bool { _, ok := a.has("net1"); return !ok })
	if liveDef(w, "net1") {
		t.Fatal("the returning host published the removed network again")
	}
}

// passes waits until h's Docker loop has made n more passes.
func (h *host) passes(t *testing.T, n int) {
	t.Helper()
	h.docker.mu.Lock()
	want := h.docker.lists + n
	h.docker.mu.Unlock()
	eventually(t, "more passes with Docker", func() bool {
		h.docker.mu.Lock()
		defer h.docker.mu.Unlock()
		return h.docker.lists >= want
	})
}

// Docker hides a network it is removing before it calls the driver's
// DeleteNetwork (with the pool released in between): passes in that window
// must not create the network again from its cluster definition.
func TestRemovalInProgressIsNotUndone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := meshtest.New(meshtest.Config{})
	a := newHost(t, ctx, w, "a", "192.0.2.1")
	a.userCreates("A1", "net1", "10.32.0.0/24", 100)
	eventually(t, "net1 published", func() bool { return liveDef(w, "net1") })
	a.named(t, "net1")

	a.docker.mu.Lock()
	delete(a.docker.networks, "net1") // docker network rm: the network is hidden
	a.docker.mu.Unlock()
	a.passes(t, 3)
	if n, ok := a.has("net1"); ok {
		t.Fatalf("net1 created again (as %s) while Docker was removing it", n.ID)
	}
	a.local.network(driver.Network{ID: "A1", VNI: 100}, driver.Deleted) // then DeleteNetwork
	eventually(t, "tombstone", func() bool { e, ok := a.agent.rep.Get(KindNetwork, "net1"); return ok && e.Deleted })
	a.passes(t, 3)
	if _, ok := a.has("net1"); ok {
		t.Fatal("net1 came back after its removal")
	}
}
