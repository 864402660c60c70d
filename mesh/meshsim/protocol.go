package meshsim

import (
	"github.com/weavego/weavego/mesh"
)

// Protocol is the replicated map's protocol as the simulator drives it:
// what a write broadcasts, what a received broadcast does and what a
// push/pull exchanges. FullState is today's (format 1); format 3's sync by
// difference is another Protocol over the same gossip and network model.
type Protocol interface {
	// NewNode returns the empty replica of host name.
	NewNode(name string) Node
}

// Node is one host's replica. The simulator calls it from one goroutine.
type Node interface {
	// Set writes value under (kind, key) and returns the broadcast.
	Set(kind, key string, value []byte) []byte
	// Delete deletes (kind, key) and returns the broadcast.
	Delete(kind, key string) []byte
	// Gossip applies a broadcast from another host and reports whether to
	// pass it on (queue it for gossip again), as a host does with a
	// broadcast that changed its map.
	Gossip(msg []byte) (passOn bool, err error)
	// PushPull returns the first message of a push/pull this host starts;
	// join marks the push/pull of a host joining the cluster.
	PushPull(join bool) []byte
	// Answer handles a push/pull message at the host that did not start
	// the exchange and returns its reply (nil for none).
	Answer(msg []byte, join bool) ([]byte, error)
	// Settle handles a reply at the host that started the exchange and
	// returns the next message (nil ends the exchange).
	Settle(msg []byte, join bool) ([]byte, error)
	// Version returns the version this replica holds of (kind, key),
	// tombstones included.
	Version(kind, key string) (uint64, bool)
	// State is the whole map as a push/pull carries it.
	State() []byte
	// Map is the whole map in a canonical encoding: two replicas hold the
	// same map if their Maps are equal.
	Map() []byte
	// Rejected counts the records admission refused.
	Rejected() uint64
}

// PassOn is a broadcast a host queues for gossip after a push/pull: a
// record its sync repaired (see SyncByDifference). A protocol whose nodes
// pass records on implements PassedOn() []PassOn, which the simulator
// calls after each push/pull message.
type PassOn struct {
	Kind, Key string
	Msg       []byte
}

// FullState is today's protocol: one mesh.Replica per host (the real
// store, merge rule, admission gate and wire format 1); a write is one
// broadcast, a host passes on a broadcast that changed its map, and a
// push/pull exchanges both hosts' full maps as memberlist does (the host
// that answers sends its state before merging the one it read).
type FullState struct {
	// Validators is each replica's admission registry (see
	// mesh.ReplicaConfig.Validators).
	Validators map[string]func(mesh.Entry) error
}

// NewFullState returns today's protocol with validators, each record's
// check memoized for all hosts (see memoValidators).
func NewFullState(validators map[string]func(mesh.Entry) error) FullState {
	return FullState{Validators: memoValidators(validators)}
}

// NewNode returns an empty replica of host name.
func (p FullState) NewNode(name string) Node {
	n := &fullNode{}
	n.rep = mesh.NewReplica(mesh.ReplicaConfig{Name: name, Validators: p.Validators,
		Broadcast: func(msg []byte) { n.last = msg }})
	return n
}

// fullNode is a host of FullState.
type fullNode struct {
	rep  *mesh.Replica
	last []byte // the broadcast of the latest local write
	// state caches rep.State() until the map changes: encoding is a pure
	// function of the map, and most push/pulls change nothing.
	state []byte
}

func (n *fullNode) Set(kind, key string, value []byte) []byte {
	n.rep.Set(kind, key, value)
	n.state = nil
	return n.last
}

func (n *fullNode) Delete(kind, key string) []byte {
	n.rep.Delete(kind, key)
	n.state = nil
	return n.last
}

func (n *fullNode) Gossip(msg []byte) (bool, error) {
	changed, err := n.rep.Merge(msg)
	if changed {
		n.state = nil
	}
	return changed, err
}

func (n *fullNode) PushPull(bool) []byte { return n.State() }

func (n *fullNode) Answer(msg []byte, _ bool) ([]byte, error) {
	state := n.State()
	_, err := n.Gossip(msg)
	return state, err
}

func (n *fullNode) Settle(msg []byte, _ bool) ([]byte, error) {
	_, err := n.Gossip(msg)
	return nil, err
}

func (n *fullNode) Version(kind, key string) (uint64, bool) {
	e, ok := n.rep.Get(kind, key)
	return e.Version, ok
}

func (n *fullNode) State() []byte {
	if n.state == nil {
		n.state = n.rep.State()
	}
	return n.state
}

func (n *fullNode) Map() []byte { return n.rep.Map() }

func (n *fullNode) Rejected() uint64 {
	var c uint64
	for _, r := range n.rep.Rejected() {
		c += r.Count
	}
	return c
}
