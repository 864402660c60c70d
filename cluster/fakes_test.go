package cluster

import (
	"context"
	"net"
	"net/netip"
	"sync"

	"github.com/docker/docker/api/types/events"

	"github.com/weavego/weavego/datapath"
	"github.com/weavego/weavego/dockerapi"
)

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
