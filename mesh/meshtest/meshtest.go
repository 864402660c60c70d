// Package meshtest is an in-memory mesh for the tests of packages that need
// peers (reconcile, ipalloc). Each peer is a mesh.Replica, so writes,
// merges, admission (generic bounds; no validators) and tombstones follow
// mesh's own code and wire format; only memberlist's transport is replaced:
// a write reaches every peer its writer can reach at once (or is lost, see
// SetLoss), and Sync does what push/pull does, a full-state exchange
// between every pair of peers that reach each other. Partition, Heal, Kill,
// Start, Leave and Suspect shape the membership each peer sees.
package meshtest

import (
	"cmp"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/weavego/weavego/mesh"
)

// Config configures a Net.
type Config struct {
	// Seed seeds the choice of the broadcasts lost (SetLoss).
	Seed uint64
	// TombstoneTTL is each replica's; default mesh.DefaultTombstoneTTL.
	TombstoneTTL time.Duration
}

// Net is a set of in-memory peers. All methods are safe for concurrent use.
type Net struct {
	cfg Config

	// mu guards every field below. It is never held while a replica is
	// written or merged, so a subscriber may call back into the Net.
	mu    sync.Mutex
	peers map[string]*Peer
	cut   map[[2]string]bool
	down  map[string]bool
	state map[string]string // mesh.StateSuspect or StateLeft, when set
	loss  float64
	rnd   *rand.Rand
}

// New returns an empty Net.
func New(cfg Config) *Net {
	return &Net{cfg: cfg, peers: map[string]*Peer{}, cut: map[[2]string]bool{}, down: map[string]bool{},
		state: map[string]string{}, rnd: rand.New(rand.NewPCG(cfg.Seed, 1))}
}

// Peer returns the peer name, adding it (empty, alive, no address) if it
// is new.
func (n *Net) Peer(name string) *Peer { return n.Add(name, netip.Addr{}) }

// Add returns the peer name, adding it with the underlay address addr if
// it is new. Existing peers keep their address.
func (n *Net) Add(name string, addr netip.Addr) *Peer {
	n.mu.Lock()
	p := n.peers[name]
	if p == nil {
		p = &Peer{net: n, name: name, addr: addr}
		p.rep = p.newReplica()
		n.peers[name] = p
	}
	n.mu.Unlock()
	n.notifyAll()
	return p
}

func pair(a, b string) [2]string {
	if a > b {
		a, b = b, a
	}
	return [2]string{a, b}
}

// reachesLocked reports whether a and b reach each other; mu is held.
func (n *Net) reachesLocked(a, b string) bool {
	if n.peers[a] == nil || n.peers[b] == nil || n.down[a] || n.down[b] {
		return false
	}
	return a == b || !n.cut[pair(a, b)] && n.state[a] != mesh.StateLeft && n.state[b] != mesh.StateLeft
}

// Partition cuts every link between peers of different groups.
func (n *Net) Partition(groups ...[]string) {
	n.mu.Lock()
	for i, g := range groups {
		for _, h := range groups[i+1:] {
			for _, x := range g {
				for _, y := range h {
					n.cut[pair(x, y)] = true
				}
			}
		}
	}
	n.mu.Unlock()
	n.notifyAll()
}

// Heal removes every cut and then syncs.
func (n *Net) Heal() {
	n.mu.Lock()
	n.cut = map[[2]string]bool{}
	n.mu.Unlock()
	n.notifyAll()
	n.Sync()
}

// Kill stops peer name as a crash would: the others see it dead, and its
// replica is lost; Start brings it back empty.
func (n *Net) Kill(name string) {
	n.mu.Lock()
	n.down[name] = true
	if p := n.peers[name]; p != nil {
		p.mu.Lock()
		p.rep = p.newReplica()
		p.mu.Unlock()
	}
	n.mu.Unlock()
	n.notifyAll()
}

// Start (re)starts peer name, adding it if it is new, and clears a Leave or
// Suspect. A killed peer comes back with an empty replica until Sync.
func (n *Net) Start(name string) *Peer {
	p := n.Peer(name)
	n.mu.Lock()
	delete(n.down, name)
	delete(n.state, name)
	n.mu.Unlock()
	n.notifyAll()
	return p
}

// Leave makes peer name leave: the others see it as left and it reaches no
// one, but it keeps its replica.
func (n *Net) Leave(name string) { n.setState(name, mesh.StateLeft) }

// Suspect makes the others see peer name as suspect: still a member.
func (n *Net) Suspect(name string) { n.setState(name, mesh.StateSuspect) }

func (n *Net) setState(name, state string) {
	n.mu.Lock()
	n.state[name] = state
	n.mu.Unlock()
	n.notifyAll()
}

// SetLoss sets the probability that a broadcast does not reach a peer;
// Sync repairs what was lost.
func (n *Net) SetLoss(p float64) {
	n.mu.Lock()
	n.loss = p
	n.mu.Unlock()
}

// Sync exchanges the full state between every pair of peers that reach
// each other, as mesh's push/pull does.
func (n *Net) Sync() {
	up := n.up()
	for _, p := range up {
		state := p.replica().State()
		for _, q := range up {
			if q != p && n.reaches(p.name, q.name) {
				q.merge(state)
			}
		}
	}
}

// Reap has every peer that is up drop the tombstones it has held longer
// than the TombstoneTTL at now (pass a time in the future).
func (n *Net) Reap(now time.Time) {
	for _, p := range n.up() {
		p.replica().Reap(now)
	}
}

// up returns the peers that are not killed.
func (n *Net) up() []*Peer {
	n.mu.Lock()
	defer n.mu.Unlock()
	var up []*Peer
	for _, p := range n.peers {
		if !n.down[p.name] {
			up = append(up, p)
		}
	}
	return up
}

func (n *Net) reaches(a, b string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.reachesLocked(a, b)
}

// deliver hands a broadcast of from to every peer it reaches.
func (n *Net) deliver(from string, msg []byte) {
	n.mu.Lock()
	var to []*Peer
	for name, p := range n.peers {
		if name != from && n.reachesLocked(from, name) && (n.loss == 0 || n.rnd.Float64() >= n.loss) {
			to = append(to, p)
		}
	}
	n.mu.Unlock()
	for _, p := range to {
		p.merge(msg)
	}
}

// notifyAll signals every peer's subscribers, as a membership change does.
func (n *Net) notifyAll() {
	n.mu.Lock()
	all := make([]*Peer, 0, len(n.peers))
	for _, p := range n.peers {
		all = append(all, p)
	}
	n.mu.Unlock()
	for _, p := range all {
		p.replica().Notify()
	}
}

// peersOf is the membership as peer self sees it.
func (n *Net) peersOf(self string) []mesh.Peer {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]mesh.Peer, 0, len(n.peers))
	for name, p := range n.peers {
		mp := mesh.Peer{Name: name, Addr: p.addr, State: mesh.StateAlive, Local: name == self}
		switch {
		case name == self:
		case n.down[name] || n.cut[pair(self, name)]:
			mp.State = mesh.StateDead
		case n.state[name] != "":
			mp.State = n.state[name]
		}
		out = append(out, mp)
	}
	slices.SortFunc(out, func(a, b mesh.Peer) int { return cmp.Compare(a.Name, b.Name) })
	return out
}
