package mesh

import (
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/weavego/weavego/internal/ipconv"
)

// delegate adapts a Mesh to memberlist's callbacks. memberlist calls it
// from its own goroutines, some while holding its node lock: every method
// only takes mesh's short internal locks, never waits on a channel or the
// network, and copies what it keeps of the buffers it is given (the
// decoder copies every field).
type delegate struct {
	m *Mesh
}

var (
	_ memberlist.Delegate      = (*delegate)(nil)
	_ memberlist.EventDelegate = (*delegate)(nil)
	_ memberlist.PingDelegate  = (*delegate)(nil)
)

// NodeMeta is unused: everything mesh shares travels as entries.
func (d *delegate) NodeMeta(limit int) []byte { return nil }

// NotifyMsg handles a broadcast or direct message from another peer.
func (d *delegate) NotifyMsg(buf []byte) {
	m := d.m
	m.stats.bytes.Add(uint64(len(buf)))
	msg, err := decodeMessage(buf)
	if err != nil {
		m.stats.decodeErrs.Add(1)
		m.log.Debug("dropping undecodable gossip message", "bytes", len(buf), "error", err)
		return
	}
	switch msg.kind {
	case msgEntries:
		if msg.summary != nil && msg.summary.omitted && msg.summaryErr == nil && len(msg.entries) == 0 {
			m.offered(msg.summary)
			return
		}
		m.applyRemote(msg.entries, true)
	case msgBye:
		m.peerBye(msg.bye)
	case msgSyncRequest:
		m.outbox.add(m.sync.answerJob(msg.request, &m.stats))
	case msgSyncChunk:
		m.takeChunk(msg.chunk)
	}
}

// GetBroadcasts hands queued entry messages to memberlist's gossip.
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	out := d.m.queue.GetBroadcasts(overhead, limit)
	d.m.stats.sent.Add(uint64(len(out)))
	return out
}

// LocalState returns, for push/pull, the full map, tombstones included,
// and the summary that vouches for it; or, when every member reads format
// 3's sync by difference, the summary alone, the receiver asking for what
// differs. A join gets the full map while it is small (joinFullBytes), so
// that a host that joins holds the map when its join returns, as with
// earlier releases; a larger map comes in chunks after it.
func (d *delegate) LocalState(join bool) []byte {
	if d.m.protos.all(2) && (!join || d.m.store.encodedEstimate() > joinFullBytes) {
		sum := d.m.store.summary()
		sum.omitted = true
		return encodeState(nil, sum)
	}
	return encodeState(d.m.store.state())
}

// joinFullBytes is the largest map sent whole to a joining host among hosts
// that sync by difference: a few chunks' worth.
const joinFullBytes = 4 * maxChunkBytes

// MergeRemoteState merges another peer's full map. Entries learned this way
// are not re-broadcast: every peer repairs itself at its own push/pull, and
// re-broadcasting a whole state on every join would flood the gossip queue.
func (d *delegate) MergeRemoteState(buf []byte, join bool) {
	m := d.m
	m.stats.bytes.Add(uint64(len(buf)))
	msg, err := decodeMessage(buf)
	if err == nil && msg.kind != msgEntries {
		err = errNotState
	}
	if err != nil {
		m.stats.decodeErrs.Add(1)
		m.log.Warn("dropping undecodable full state from a peer", "bytes", len(buf), "error", err)
		return
	}
	m.applyRemote(msg.entries, false)
	if msg.summary != nil && msg.summary.omitted && msg.summaryErr == nil {
		m.offered(msg.summary)
	} else {
		m.vouched(msg)
	}
	if m.legacyDone.CompareAndSwap(false, true) {
		m.rewrite(m.store.legacyOwn(), "records this host wrote before the replay rule, written anew with a "+
			"write identity")
	}
}

// NotifyJoin records a peer that joined, this peer included.
func (d *delegate) NotifyJoin(n *memberlist.Node) {
	d.m.protos.set(n)
	d.m.peers.join(n.Name, ipconv.Addr(n.Addr), int(n.Port))
	d.m.log.Debug("peer joined", "peer", n.Name, "addr", n.Address())
	d.m.subs.notify()
}

// NotifyLeave records a peer that memberlist declared dead or that left.
func (d *delegate) NotifyLeave(n *memberlist.Node) {
	if n.Name == d.m.name {
		return
	}
	d.m.protos.gone(n.Name)
	state := d.m.peers.gone(n.Name, time.Now())
	d.m.log.Debug("peer gone", "peer", n.Name, "addr", n.Address(), "state", state)
	d.m.subs.notify()
}

// NotifyUpdate records a peer whose address changed.
func (d *delegate) NotifyUpdate(n *memberlist.Node) {
	d.m.protos.set(n)
	d.m.peers.join(n.Name, ipconv.Addr(n.Addr), int(n.Port))
	d.m.log.Debug("peer updated", "peer", n.Name, "addr", n.Address())
	d.m.subs.notify()
}

// AckPayload sends nothing with probe acks.
func (d *delegate) AckPayload() []byte { return nil }

// NotifyPingComplete clears a suspicion when a later probe succeeds:
// memberlist has no event for a suspect peer that refuted.
func (d *delegate) NotifyPingComplete(other *memberlist.Node, rtt time.Duration, payload []byte) {
	if d.m.peers.acked(other.Name) {
		d.m.log.Debug("peer answers probes again", "peer", other.Name)
		d.m.subs.notify()
	}
}

// broadcast is one queued message. Its name is the entry's identity, so a
// newer version of an entry replaces an older one still in the queue.
type broadcast struct {
	name string
	msg  []byte
}

var _ memberlist.NamedBroadcast = (*broadcast)(nil)

// Invalidates reports whether b supersedes other.
func (b *broadcast) Invalidates(other memberlist.Broadcast) bool {
	nb, ok := other.(memberlist.NamedBroadcast)
	return ok && nb.Name() == b.name
}

// Name identifies what the message is about.
func (b *broadcast) Name() string { return b.name }

// Message returns the encoded message.
func (b *broadcast) Message() []byte { return b.msg }

// Finished is called when the message is no longer sent; nothing waits.
func (b *broadcast) Finished() {}
