package ipalloc

import (
	"bytes"
	"cmp"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/weavego/weavego/mesh"
)

// fakeNet is an in-memory gossip network of fakePeers. Each peer has its
// own map; a write is delivered at once to the peers it can reach (or
// dropped, with probability drop), and antiEntropy repairs what was missed,
// as mesh's full-state push/pull does. Partitions cut pairs of peers.
type fakeNet struct {
	// mu guards peers, cut, down, drop and rnd. It is never held while a
	// peer's lock is taken: deliver releases it before merging.
	mu    sync.Mutex
	peers map[string]*fakePeer
	cut   map[[2]string]bool
	down  map[string]bool
	drop  float64
	rnd   *rand.Rand
}

func newFakeNet(seed uint64) *fakeNet {
	return &fakeNet{peers: map[string]*fakePeer{}, cut: map[[2]string]bool{}, down: map[string]bool{},
		rnd: rand.New(rand.NewPCG(seed, 1))}
}

// peer returns the replica of host name, creating it (empty, up) if needed.
func (n *fakeNet) peer(name string) *fakePeer {
	n.mu.Lock()
	defer n.mu.Unlock()
	if p := n.peers[name]; p != nil {
		return p
	}
	p := &fakePeer{net: n, name: name, entries: map[[2]string]mesh.Entry{}}
	n.peers[name] = p
	return p
}

func pair(a, b string) [2]string {
	if a > b {
		a, b = b, a
	}
	return [2]string{a, b}
}

func (n *fakeNet) reachable(a, b string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.reachableLocked(a, b)
}

func (n *fakeNet) reachableLocked(a, b string) bool {
	return a == b || !n.down[a] && !n.down[b] && !n.cut[pair(a, b)] && n.peers[b] != nil
}

// partition cuts every link between the groups.
func (n *fakeNet) partition(groups ...[]string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for i, g := range groups {
		for _, h := range groups[i+1:] {
			for _, x := range g {
				for _, y := range h {
					n.cut[pair(x, y)] = true
				}
			}
		}
	}
}

func (n *fakeNet) heal() {
	n.mu.Lock()
	n.cut = map[[2]string]bool{}
	n.mu.Unlock()
	n.antiEntropy()
}

// setDown stops (true) or restarts a peer; a restarted peer's map is empty,
// as mesh's is after a process restart.
func (n *fakeNet) setDown(name string, down bool) {
	n.mu.Lock()
	n.down[name] = down
	p := n.peers[name]
	n.mu.Unlock()
	if p != nil && down {
		p.mu.Lock()
		p.entries = map[[2]string]mesh.Entry{}
		p.mu.Unlock()
	}
}

// deliver sends e from one peer to every other it reaches.
func (n *fakeNet) deliver(from string, e mesh.Entry) {
	n.mu.Lock()
	var to []*fakePeer
	for name, p := range n.peers {
		if name != from && n.reachableLocked(from, name) && (n.drop == 0 || n.rnd.Float64() >= n.drop) {
			to = append(to, p)
		}
	}
	n.mu.Unlock()
	for _, p := range to {
		p.merge([]mesh.Entry{e})
	}
}

// antiEntropy exchanges full state between every reachable pair.
func (n *fakeNet) antiEntropy() {
	n.mu.Lock()
	var all []*fakePeer
	for _, p := range n.peers {
		if !n.down[p.name] {
			all = append(all, p)
		}
	}
	n.mu.Unlock()
	for _, p := range all {
		state := p.all()
		for _, q := range all {
			if q != p && n.reachable(p.name, q.name) {
				q.merge(state)
			}
		}
	}
}

// fakePeer is one host's replica.
type fakePeer struct {
	net  *fakeNet
	name string

	// mu guards entries and subs.
	mu      sync.Mutex
	entries map[[2]string]mesh.Entry
	subs    []chan struct{}
}

var _ Replica = (*fakePeer)(nil)

func (p *fakePeer) LocalName() string { return p.name }

func (p *fakePeer) Set(kind, key string, value []byte) mesh.Entry {
	return p.write(mesh.Entry{Kind: kind, Key: key, Value: slices.Clone(value)}, 0)
}

func (p *fakePeer) SetAtLeast(kind, key string, value []byte, floor uint64) mesh.Entry {
	return p.write(mesh.Entry{Kind: kind, Key: key, Value: slices.Clone(value)}, floor)
}

func (p *fakePeer) Delete(kind, key string) mesh.Entry {
	return p.write(mesh.Entry{Kind: kind, Key: key, Deleted: true}, 0)
}

func (p *fakePeer) write(e mesh.Entry, floor uint64) mesh.Entry {
	p.mu.Lock()
	id := [2]string{e.Kind, e.Key}
	e.Owner, e.Version = p.name, max(p.entries[id].Version+1, min(floor, mesh.MaxVersion))
	p.entries[id] = e
	p.mu.Unlock()
	p.notify()
	p.net.deliver(p.name, e)
	return e
}

// newer is mesh's merge order: version, owner, tombstone, value.
func newer(a, b mesh.Entry) bool {
	return cmp.Or(cmp.Compare(a.Version, b.Version), cmp.Compare(a.Owner, b.Owner),
		cmp.Compare(boolInt(a.Deleted), boolInt(b.Deleted)), bytes.Compare(a.Value, b.Value)) > 0
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (p *fakePeer) merge(in []mesh.Entry) {
	changed := false
	p.mu.Lock()
	for _, e := range in {
		id := [2]string{e.Kind, e.Key}
		if cur, ok := p.entries[id]; !ok || newer(e, cur) {
			p.entries[id] = e
			changed = true
		}
	}
	p.mu.Unlock()
	if changed {
		p.notify()
	}
}

func (p *fakePeer) all() []mesh.Entry {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]mesh.Entry, 0, len(p.entries))
	for _, e := range p.entries {
		out = append(out, e)
	}
	return out
}

func (p *fakePeer) notify() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ch := range p.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (p *fakePeer) Get(kind, key string) (mesh.Entry, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.entries[[2]string{kind, key}]
	return e, ok
}

func (p *fakePeer) List(kind string) []mesh.Entry {
	p.mu.Lock()
	var out []mesh.Entry
	for _, e := range p.entries {
		if e.Kind == kind && !e.Deleted {
			out = append(out, e)
		}
	}
	p.mu.Unlock()
	slices.SortFunc(out, func(a, b mesh.Entry) int { return cmp.Compare(a.Key, b.Key) })
	return out
}

func (p *fakePeer) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	p.mu.Lock()
	p.subs = append(p.subs, ch)
	p.mu.Unlock()
	return ch, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.subs = slices.DeleteFunc(p.subs, func(c chan struct{}) bool { return c == ch })
	}
}

func (p *fakePeer) Alive(peer string) bool { return peer != p.name && p.net.reachable(p.name, peer) }
