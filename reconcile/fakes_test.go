package reconcile

import (
	"context"
	"maps"
	"net"
	"net/netip"
	"slices"
	"sync"

	"github.com/docker/docker/api/types/events"

	"github.com/weavego/weavego/datapath"
	"github.com/weavego/weavego/driver"
	"github.com/weavego/weavego/internal/dockerapi"
)

// fakeKernel records the last SetRemotes per network and the last
// SetVXLANPeers.
type fakeKernel struct {
	mu      sync.Mutex
	remotes map[string][]datapath.Remote
	flood   map[string][]netip.Addr
	peers   []netip.Addr
	direct  map[string]net.HardwareAddr // DirectMAC by network ID
}

func (k *fakeKernel) SetVXLANPeers(addrs []netip.Addr) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.peers = addrs
	return nil
}

func (k *fakeKernel) DirectMAC(id string) net.HardwareAddr {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.direct[id]
}

func (k *fakeKernel) DirectPaths(string) map[netip.Addr]string { return nil }

func (k *fakeKernel) vxlanPeers() []netip.Addr {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.peers
}

func newFakeKernel() *fakeKernel {
	return &fakeKernel{remotes: map[string][]datapath.Remote{}, flood: map[string][]netip.Addr{}}
}

func (k *fakeKernel) SetRemotes(id string, r []datapath.Remote, f []netip.Addr) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.remotes[id], k.flood[id] = r, f
	return nil
}

func (k *fakeKernel) get(id string) ([]datapath.Remote, []netip.Addr) {
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
	lists    int // calls of Networks: one per pass
}

func (d *fakeDocker) Ping(context.Context) error { return nil }
func (d *fakeDocker) Networks(context.Context, ...string) ([]dockerapi.Network, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lists++
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

// fakeLocal is the driver's state as the agent reads it (Local): tests
// change it the way the driver does and then tell cl, as the driver does.
type fakeLocal struct {
	cl driver.Reconciler

	// mu guards nets and eps.
	mu   sync.Mutex
	nets map[string]driver.Network
	eps  map[string]driver.Endpoint
}

func newFakeLocal() *fakeLocal {
	return &fakeLocal{nets: map[string]driver.Network{}, eps: map[string]driver.Endpoint{}}
}

func (l *fakeLocal) Networks() []driver.Network {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Collect(maps.Values(l.nets))
}

func (l *fakeLocal) Endpoints() []driver.Endpoint {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Collect(maps.Values(l.eps))
}

// network records a network change and tells the agent.
func (l *fakeLocal) network(n driver.Network, c driver.Change) {
	l.mu.Lock()
	if c == driver.Deleted {
		delete(l.nets, n.ID)
	} else {
		l.nets[n.ID] = n
	}
	l.mu.Unlock()
	l.cl.NetworkChanged(n, c)
}

// endpoint records an endpoint change and tells the agent.
func (l *fakeLocal) endpoint(ep driver.Endpoint, deleted bool) {
	l.mu.Lock()
	if deleted {
		delete(l.eps, ep.ID)
	} else {
		l.eps[ep.ID] = ep
	}
	l.mu.Unlock()
	l.cl.EndpointChanged(ep, deleted)
}

// vni returns the VNI of local network id.
func (l *fakeLocal) vni(id string) uint32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.nets[id].VNI
}
