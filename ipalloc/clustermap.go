package ipalloc

import "github.com/weavego/weavego/mesh"

// ClusterMap is what the allocator needs from the gossip layer (package mesh):
// a replicated map whose merge keeps the highest Version (ties broken
// deterministically), a change signal and a liveness view.
type ClusterMap interface {
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
	// ClearPins sets the hosts removed from the cluster, whose entries
	// above the versions real writes reach are dropped and refused.
	ClearPins(removed []string) int
}
