package meshtest

import (
	"net/netip"
	"sync"

	"github.com/weavego/weavego/mesh"
)

// Peer is one host's view of the Net: its replica and the membership it
// sees. It has the methods of *mesh.Mesh that consumers declare in their
// interfaces. A Peer stays valid across Kill and Start.
type Peer struct {
	net  *Net
	name string
	addr netip.Addr

	// mu guards rep, replaced by Kill.
	mu  sync.Mutex
	rep *mesh.Replica
}

func (p *Peer) newReplica() *mesh.Replica {
	return mesh.NewReplica(mesh.ReplicaConfig{Name: p.name, TombstoneTTL: p.net.cfg.TombstoneTTL,
		Broadcast: func(msg []byte) { p.net.deliver(p.name, msg) }})
}

func (p *Peer) replica() *mesh.Replica {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rep
}

func (p *Peer) merge(msg []byte) {
	if _, err := p.replica().Merge(msg); err != nil {
		panic("meshtest: mesh cannot decode its own message: " + err.Error())
	}
}

// LocalName returns the peer's name.
func (p *Peer) LocalName() string { return p.name }

// Set is mesh.Mesh.Set.
func (p *Peer) Set(kind, key string, value []byte) mesh.Entry {
	return p.replica().Set(kind, key, value)
}

// SetAtLeast is mesh.Mesh.SetAtLeast.
func (p *Peer) SetAtLeast(kind, key string, value []byte, floor uint64) mesh.Entry {
	return p.replica().SetAtLeast(kind, key, value, floor)
}

// Delete is mesh.Mesh.Delete.
func (p *Peer) Delete(kind, key string) mesh.Entry { return p.replica().Delete(kind, key) }

// ClearPins is Mesh.ClearPins.
func (p *Peer) ClearPins(removed []string) int { return p.replica().ClearPins(removed) }

// Get is mesh.Mesh.Get.
func (p *Peer) Get(kind, key string) (mesh.Entry, bool) { return p.replica().Get(kind, key) }

// List is mesh.Mesh.List.
func (p *Peer) List(kind string) []mesh.Entry { return p.replica().List(kind) }

// Subscribe is mesh.Mesh.Subscribe: a signal after entry and membership
// changes. A subscription ends with the replica that Kill replaces.
func (p *Peer) Subscribe() (<-chan struct{}, func()) { return p.replica().Subscribe() }

// Alive reports whether name is a member as this peer sees it: up, not
// left, and not cut off from this peer.
func (p *Peer) Alive(name string) bool {
	for _, m := range p.net.peersOf(p.name) {
		if m.Name == name {
			return m.State == mesh.StateAlive || m.State == mesh.StateSuspect
		}
	}
	return false
}

// Peers is mesh.Mesh.Peers as this peer sees the Net.
func (p *Peer) Peers() []mesh.Peer { return p.net.peersOf(p.name) }
