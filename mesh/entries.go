package mesh

import (
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/weavego/weavego/internal/ipconv"
)

// Set writes value under (kind, key), owned by this peer, with a version
// one higher than any this peer knows for the key, and broadcasts it. It
// returns the entry written. value is copied.
//
// Write only after joining: a version computed before learning the
// cluster's state may lose to an older write.
func (m *Mesh) Set(kind, key string, value []byte) Entry {
	return m.write(Entry{Kind: kind, Key: key, Value: value})
}

// Delete writes a tombstone for (kind, key) the same way as Set. The
// tombstone is kept TombstoneTTL, so a deleted entry cannot come back from
// a peer that missed the delete for less than that.
func (m *Mesh) Delete(kind, key string) Entry {
	return m.write(Entry{Kind: kind, Key: key, Deleted: true})
}

func (m *Mesh) write(e Entry) Entry {
	r := m.store.write(m.name, e, time.Now())
	m.log.Debug("entry written", entryAttrs(r.e)...)
	m.checkOwn(r)
	m.broadcast(r, true)
	m.subs.notify()
	return r.e.clone()
}

// Get returns the entry (kind, key), which may be a tombstone.
func (m *Mesh) Get(kind, key string) (Entry, bool) { return m.store.get(kind, key) }

// List returns the live entries of kind, sorted by key.
func (m *Mesh) List(kind string) []Entry { return m.store.list(kind) }

// Snapshot returns every entry, tombstones included, sorted by kind and
// key, e.g. to save to disk.
func (m *Mesh) Snapshot() []Entry {
	recs := m.store.all()
	out := make([]Entry, len(recs))
	for i, r := range recs {
		out[i] = r.e.clone()
	}
	return out
}

// Restore merges entries, e.g. a Snapshot saved before a restart, with the
// same rule as gossip. Restored entries reach other peers at the next
// push/pull; a restored tombstone is kept a further TombstoneTTL.
func (m *Mesh) Restore(entries []Entry) {
	now := time.Now()
	recs := make([]record, len(entries))
	for i, e := range entries {
		recs[i] = record{e: e, stamp: now.UnixMilli()}
	}
	changed := m.admitAndMerge(recs, now, true)
	for _, r := range changed {
		m.log.Debug("entry restored", entryAttrs(r.e)...)
	}
	if len(changed) > 0 {
		m.subs.notify()
	}
}

// applyRemote merges entries from another peer and, for a broadcast,
// passes on those that changed the map.
func (m *Mesh) applyRemote(recs []record, rebroadcast bool) {
	changed := m.admitAndMerge(recs, time.Now(), false)
	m.stats.applied.Add(uint64(len(changed)))
	m.stats.ignored.Add(uint64(len(recs) - len(changed)))
	for _, r := range changed {
		m.log.Debug("entry applied", entryAttrs(r.e)...)
		if rebroadcast {
			m.broadcast(r, false)
		}
	}
	if len(changed) > 0 {
		m.subs.notify()
	}
}

// broadcast queues r for gossip. An entry too large for a gossip packet is
// sent over TCP to every member by the peer that wrote it, and not passed
// on by the others (push/pull repairs any peer it missed).
func (m *Mesh) broadcast(r record, local bool) {
	msg := encodeEntries([]record{r})
	id := broadcastID(r.e)
	if len(msg) <= maxGossipBytes {
		m.stats.queued.Add(1)
		m.queue.QueueBroadcast(&broadcast{name: id, msg: msg})
		return
	}
	if local {
		m.stats.queued.Add(1)
		m.sendDirect(id, msg)
	}
}

// broadcastID names e's gossip message: a newer write of the same entry
// replaces an older one still queued.
func broadcastID(e Entry) string { return "e\x00" + e.Kind + "\x00" + e.Key }

// sendDirect queues msg, the entry id, for sending over TCP to every other
// live member by the background sender, so that Set never waits on the
// network. A newer write of the same entry replaces one still queued.
func (m *Mesh) sendDirect(id string, msg []byte) {
	m.direct.enqueue(id, msg)
}

// sendToMembers sends msg over TCP to every other live member until stop
// is closed; the direct sender calls it, one message at a time.
func (m *Mesh) sendToMembers(msg []byte, stop <-chan struct{}) {
	targets := m.otherMembers()
	for i := range targets {
		select {
		case <-stop:
			return
		default:
		}
		if err := m.list.SendReliable(&targets[i], msg); err != nil {
			m.log.Debug("send large entry failed; push/pull will repair",
				"peer", targets[i].Name, "error", err)
		}
	}
}

// takeChunk merges a chunk of an answer to this peer's sync request.
func (m *Mesh) takeChunk(c *syncChunk) {
	t := m.sync.take(c, time.Now())
	if t.unasked {
		m.stats.syncUnasked.Add(1)
		m.stats.ignored.Add(uint64(len(c.recs)))
		m.log.Debug("ignoring a sync answer this peer did not ask for (late, or a replay)", "writer", printable(c.writer))
		return
	}
	m.report(t.res)
	m.stats.applied.Add(uint64(len(t.res.changed)))
	m.stats.ignored.Add(uint64(len(c.recs) - len(t.res.changed)))
	m.stats.syncDropped.Add(uint64(t.dropped))
	if t.dropped > 0 {
		m.log.Debug("records dropped after a sync: their writes were replaced or deleted", "count", t.dropped)
	}
	if len(t.res.changed) > 0 || t.dropped > 0 {
		m.subs.notify()
	}
	m.stats.syncRelayed.Add(uint64(len(t.relay)))
	for _, r := range t.relay {
		m.broadcast(r, false)
	}
	if t.large {
		m.offer(t.from, time.Now())
	}
	if t.own > 0 {
		m.ownWriteSeen(t.own)
	}
}

// vouched raises the watermarks to what a full state's summary vouches
// for, once every record of that state went through the gate: a state
// with a frame that did not parse, or a summary that did not, vouches for
// nothing.
func (m *Mesh) vouched(msg message) {
	if msg.summaryErr != nil {
		m.stats.decodeErrs.Add(1)
		m.log.Debug("ignoring the unreadable summary of a full state", "error", msg.summaryErr)
		return
	}
	if msg.summary == nil || msg.skipped > 0 {
		return
	}
	if own := m.store.vouch(msg.summary); own > 0 {
		m.ownWriteSeen(own)
	}
}

// ownWriteSeen handles a write of this peer's own name above its counter:
// its state file was lost or restored from a backup, or another member
// writes under its name. It moves its counter above and writes its records
// anew, so that the others do not take them for old messages.
func (m *Mesh) ownWriteSeen(seq uint64) {
	own := m.store.moveAbove(seq)
	if own == nil {
		return
	}
	m.log.Warn("another member holds a write of this host newer than this host's own; this host's saved state "+
		"is older than its last run (restored from a backup?) or another member uses its name; writing its "+
		"records anew", "seq", seq, "records", len(own))
	m.rewrite(own, "")
}

// rewrite writes recs, records of this peer, anew: same value, next
// version, a new write identity.
func (m *Mesh) rewrite(recs []record, why string) {
	if len(recs) == 0 {
		return
	}
	if why != "" {
		m.log.Info(why, "records", len(recs))
	}
	for _, r := range recs {
		m.write(Entry{Kind: r.e.Kind, Key: r.e.Key, Value: r.e.Value, Deleted: r.e.Deleted})
	}
}

func entryAttrs(e Entry) []any {
	return []any{"kind", e.Kind, "key", e.Key, "owner", e.Owner,
		"version", e.Version, "deleted", e.Deleted}
}

// otherMembers returns the live members other than this peer, from mesh's
// own table so that no memberlist-owned Node is read outside its lock.
func (m *Mesh) otherMembers() []memberlist.Node {
	var out []memberlist.Node
	for _, p := range m.peers.list(time.Now()) {
		if !p.Local && (p.State == StateAlive || p.State == StateSuspect) {
			out = append(out, memberlist.Node{Name: p.Name, Addr: ipconv.IP(p.Addr), Port: uint16(p.Port)})
		}
	}
	return out
}
