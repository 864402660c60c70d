package ipalloc

import (
	"cmp"
	"slices"
	"sync"

	"github.com/weavego/weavego/mesh"
)

// Replica is what the allocator needs from the gossip layer (package mesh):
// a replicated map whose merge keeps the highest Version (ties broken
// deterministically), a change signal and a liveness view.
type Replica interface {
	// LocalName is this host's name in the cluster.
	LocalName() string
	// Set writes (kind, key) as LocalName with version max known + 1.
	Set(kind, key string, value []byte) mesh.Entry
	// SetAtLeast is Set at a version of at least floor (see takeoverJump).
	SetAtLeast(kind, key string, value []byte, floor uint64) mesh.Entry
	// Delete writes a tombstone for (kind, key) the same way.
	Delete(kind, key string) mesh.Entry
	// Get returns the entry, tombstones included.
	Get(kind, key string) (mesh.Entry, bool)
	// List returns the live entries of kind, sorted by key.
	List(kind string) []mesh.Entry
	// Subscribe returns a coalescing change signal and its cancel func.
	Subscribe() (<-chan struct{}, func())
	// Alive reports whether peer is currently reachable.
	Alive(peer string) bool
}

// soloReplica is the Replica of a host running without gossip: a cluster of
// one, where every write is immediately final and no peer is ever alive.
type soloReplica struct {
	name string

	// mu guards entries.
	mu      sync.Mutex
	entries map[[2]string]mesh.Entry
}

var (
	_ Replica = (*soloReplica)(nil)
	_ Replica = (*mesh.Mesh)(nil)
)

func newSoloReplica(name string) *soloReplica {
	return &soloReplica{name: name, entries: make(map[[2]string]mesh.Entry)}
}

func (r *soloReplica) LocalName() string { return r.name }

func (r *soloReplica) Set(kind, key string, value []byte) mesh.Entry {
	return r.write(mesh.Entry{Kind: kind, Key: key, Value: slices.Clone(value)}, 0)
}

func (r *soloReplica) SetAtLeast(kind, key string, value []byte, floor uint64) mesh.Entry {
	return r.write(mesh.Entry{Kind: kind, Key: key, Value: slices.Clone(value)}, floor)
}

func (r *soloReplica) Delete(kind, key string) mesh.Entry {
	return r.write(mesh.Entry{Kind: kind, Key: key, Deleted: true}, 0)
}

func (r *soloReplica) write(e mesh.Entry, floor uint64) mesh.Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := [2]string{e.Kind, e.Key}
	e.Owner, e.Version = r.name, max(r.entries[id].Version+1, min(floor, mesh.MaxVersion))
	r.entries[id] = e
	return e
}

func (r *soloReplica) Get(kind, key string) (mesh.Entry, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.entries[[2]string{kind, key}]
	return e, ok
}

func (r *soloReplica) List(kind string) []mesh.Entry {
	r.mu.Lock()
	var out []mesh.Entry
	for _, e := range r.entries {
		if e.Kind == kind && !e.Deleted {
			out = append(out, e)
		}
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b mesh.Entry) int { return cmp.Compare(a.Key, b.Key) })
	return out
}

func (r *soloReplica) Subscribe() (<-chan struct{}, func()) {
	return make(chan struct{}), func() {}
}

func (r *soloReplica) Alive(string) bool { return false }
