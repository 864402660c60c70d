package meshsim

import (
	"encoding/binary"

	"github.com/weavego/weavego/mesh"
)

// SyncByDifference is format 3 among hosts that all read it: broadcasts
// as FullState's, and a push/pull that carries summaries and then only
// the records of the writers on which two hosts differ, in chunks
// (mesh.Replica.Summary and Sync, the real code). The simulator's
// exchange legs carry several of the protocol's messages each (a bundle):
//
//	leg 1, a to b: a's summary
//	leg 2, b to a: b's request (if it lacks anything) and b's summary
//	leg 3, a to b: the chunks that answer b, and a's request
//	leg 4, b to a: the chunks that answer a
//
// In weavego the requests and chunks are separate TCP messages after
// memberlist's push/pull; the model sends them on the same stream, which
// leaves out one connection set-up per message.
type SyncByDifference struct {
	FullState
}

// NewSyncByDifference returns format 3's protocol with validators.
func NewSyncByDifference(validators map[string]func(mesh.Entry) error) SyncByDifference {
	return SyncByDifference{FullState: NewFullState(validators)}
}

// NewNode returns an empty replica of host name.
func (p SyncByDifference) NewNode(name string) Node {
	n := &diffNode{fullNode: &fullNode{}}
	n.rep = mesh.NewReplica(mesh.ReplicaConfig{Name: name, Validators: p.Validators,
		Broadcast: func(msg []byte) { n.last = msg },
		PassOn: func(kind, key string, msg []byte) {
			n.passOn = append(n.passOn, PassOn{Kind: kind, Key: key, Msg: msg})
		},
		Offer: func() { n.offer = true }})
	return n
}

// LargestMessage is the largest protocol message in a leg: what must fit
// memberlist's and the stream guard's limits.
func (p SyncByDifference) LargestMessage(leg []byte) int {
	most := 0
	for _, m := range unbundle(leg) {
		most = max(most, len(m))
	}
	return most
}

type diffNode struct {
	*fullNode
	// passOn are the records the replica passed on during the current
	// message, for the simulator's gossip queue.
	passOn []PassOn
	// offer: the replica asked to offer its summary (see Offer).
	offer bool
}

// Offer returns, once the replica asked for it after a large repair, the
// first message of an offer (mesh's offer.go): its summary, which the
// receiver answers with Offered; nil otherwise.
func (n *diffNode) Offer() []byte {
	if !n.offer {
		return nil
	}
	n.offer = false
	return bundle([][]byte{n.rep.Summary()})
}

// Summary is the first message of a later round of offers.
func (n *diffNode) Summary() []byte { return bundle([][]byte{n.rep.Summary()}) }

// Offered handles an offer's summary: the request for what this host
// lacks, without a summary of its own (an offer is one way).
func (n *diffNode) Offered(msg []byte) ([]byte, error) { return n.handle(msg, false) }

// PassedOn returns and forgets what the replica passed on since the last
// call: the records a sync repaired, which Mesh queues for gossip.
func (n *diffNode) PassedOn() []PassOn {
	out := n.passOn
	n.passOn = nil
	return out
}

func (n *diffNode) PushPull(bool) []byte { return bundle([][]byte{n.rep.Summary()}) }

// Answer handles legs 1 and 3 at the host that did not start the exchange.
func (n *diffNode) Answer(msg []byte, _ bool) ([]byte, error) {
	return n.handle(msg, true)
}

// Settle handles legs 2 and 4 at the host that started it.
func (n *diffNode) Settle(msg []byte, _ bool) ([]byte, error) {
	return n.handle(msg, false)
}

// handle runs every message of a leg through Sync and bundles the
// replies; the first leg's receiver adds its own summary.
func (n *diffNode) handle(leg []byte, answering bool) ([]byte, error) {
	var out [][]byte
	first := false
	for i, m := range unbundle(leg) {
		replies, err := n.rep.Sync(m)
		if err != nil {
			return nil, err
		}
		out = append(out, replies...)
		first = first || answering && i == 0 && isSummary(m)
	}
	n.state = nil
	if first {
		out = append(out, n.rep.Summary())
	}
	if len(out) == 0 {
		return nil, nil
	}
	return bundle(out), nil
}

// isSummary tells a summary (an entries message) from requests and chunks.
func isSummary(m []byte) bool { return len(m) > 1 && m[1] == 1 }

func bundle(msgs [][]byte) []byte {
	var b []byte
	for _, m := range msgs {
		b = binary.AppendUvarint(b, uint64(len(m)))
		b = append(b, m...)
	}
	return b
}

func unbundle(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return out
		}
		out = append(out, b[k:k+int(n)])
		b = b[k+int(n):]
	}
	return out
}
