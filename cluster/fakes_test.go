package cluster

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"sync"

	"github.com/docker/docker/api/types/events"

	"github.com/weavego/weavego/datapath"
	"github.com/weavego/weavego/dockerapi"
	"github.com/weavego/weavego/mesh"
)

// world is an in-memory replicated map shared by several fake peers, with
// instant delivery: enough to test the agent's reconciliation.
type world struct {
	mu      sync.Mutex
	entries map[[2]string]mesh.Entry
	dead    map[string]bool
	members []mesh.Peer       // what Peers returns, when set
	addrs   map[string]net.IP // each host's underlay address
	subs    []chan struct{}
}

func newWorld() *world {
	return &world{entries: map[[2]string]mesh.Entry{}, dead: map[string]bool{}, addrs: map[string]net.IP{}}
}

// addHost records a host's underlay address, as membership would.
func (w *world) addHost(name string, addr net.IP) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.addrs[name] = addr
}

func (w *world) notify() {
	for _, s := range w.subs {
		select {
		case s <- struct{}{}:
		default:
		}
	}
}

type peerView struct {
	w    *world
	name string
}

func (p peerView) LocalName() string { return p.name }
func (p peerView) write(kind, key string, val []byte, del bool) mesh.Entry {
	p.w.mu.Lock()
	defer p.w.mu.Unlock()
	old := p.w.entries[[2]string{kind, key}]
	e := mesh.Entry{Kind: kind, Key: key, Owner: p.name, Version: old.Version + 1, Value: val, Deleted: del}
	p.w.entries[[2]string{kind, key}] = e
	p.w.notify()
	return e
}
func (p peerView) Set(kind, key string, v []byte) mesh.Entry { return p.write(kind, key, v, false) }
func (p peerView) Delete(kind, key string) mesh.Entry        { return p.write(kind, key, nil, true) }
func (p peerView) Get(kind, key string) (mesh.Entry, bool) {
	p.w.mu.Lock()
	defer p.w.mu.Unlock()
	e, ok := p.w.entries[[2]string{kind, key}]
	return e, ok
}
func (p peerView) List(kind string) []mesh.Entry {
	p.w.mu.Lock()
	defer p.w.mu.Unlock()
	var out []mesh.Entry
	for k, e := range p.w.entries {
		if k[0] == kind && !e.Deleted {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
func (p peerView) Subscribe() (<-chan struct{}, func()) {
	p.w.mu.Lock()
	defer p.w.mu.Unlock()
	ch := make(chan struct{}, 1)
	p.w.subs = append(p.w.subs, ch)
	return ch, func() {}
}
func (p peerView) Alive(name string) bool {
	p.w.mu.Lock()
	defer p.w.mu.Unlock()
	return !p.w.dead[name]
}
func (p peerView) Peers() []mesh.Peer {
	p.w.mu.Lock()
	defer p.w.mu.Unlock()
	if len(p.w.members) != 0 {
		out := append([]mesh.Peer(nil), p.w.members...)
		for i := range out {
			out[i].Local = out[i].Name == p.name
		}
		return out
	}
	out := []mesh.Peer{{Name: p.name, Addr: p.w.addrs[p.name], State: mesh.StateAlive, Local: true}}
	for name, addr := range p.w.addrs {
		if name != p.name {
			out = append(out, mesh.Peer{Name: name, Addr: addr, State: mesh.StateAlive})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// fakeKernel records the last SetRemotes per network and the last
// SetVXLANPeers.
type fakeKernel struct {
	mu      sync.Mutex
	remotes map[string][]datapath.Remote
	flood   map[string][]net.IP
	peers   []netip.Addr
}

func (k *fakeKernel) SetVXLANPeers(addrs []netip.Addr) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.peers = addrs
	return nil
}

func (k *fakeKernel) vxlanPeers() []netip.Addr {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.peers
}

func newFakeKernel() *fakeKernel {
	return &fakeKernel{remotes: map[string][]datapath.Remote{}, flood: map[string][]net.IP{}}
}

func (k *fakeKernel) SetRemotes(id string, r []datapath.Remote, f []net.IP) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.remotes[id], k.flood[id] = r, f
	return nil
}

func (k *fakeKernel) get(id string) ([]datapath.Remote, []net.IP) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.remotes[id], k.flood[id]
}

// fakeDocker is one host's Docker engine: networks by name.
type fakeDocker struct {
	mu       sync.Mutex
	networks map[string]dockerapi.Network
	onCreate func(n dockerapi.Network) string // returns the new network's ID
	removed  []string
}

func (d *fakeDocker) Ping(context.Context) error { return nil }
func (d *fakeDocker) Networks(context.Context, ...string) ([]dockerapi.Network, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []dockerapi.Network
	for _, n := range d.networks {
		out = append(out, n)
	}
	return out, nil
}
func (d *fakeDocker) CreateNetwork(_ context.Context, n dockerapi.Network) (string, error) {
	d.mu.Lock()
	n.ID = d.onCreate(n)
	d.networks[n.Name] = n
	d.mu.Unlock()
	return n.ID, nil
}
func (d *fakeDocker) RemoveNetwork(_ context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for name, n := range d.networks {
		if n.ID == id || name == id {
			delete(d.networks, name)
			d.removed = append(d.removed, name)
		}
	}
	return nil
}
func (d *fakeDocker) Container(_ context.Context, id string) (dockerapi.Container, error) {
	return dockerapi.Container{ID: id}, nil
}
func (d *fakeDocker) Events(ctx context.Context) (<-chan events.Message, <-chan error) {
	return make(chan events.Message), make(chan error)
}
func (d *fakeDocker) PluginName(context.Context, string) (string, error) {
	return "weavego:latest", nil
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
