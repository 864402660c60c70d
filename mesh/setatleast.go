package mesh

import "time"

// SetAtLeast is Set with a floor: the version written is the higher of one
// more than any version this peer knows for the key and floor (capped at
// MaxVersion, so the others still admit it). A caller that must win over
// writes it has not seen yet, such as a takeover of a removed host's space
// in package ipalloc, jumps the version by a margin no run of ordinary
// writes can reach.
func (m *Mesh) SetAtLeast(kind, key string, value []byte, floor uint64) Entry {
	r := m.store.writeAtLeast(m.name, Entry{Kind: kind, Key: key, Value: value}, floor, time.Now())
	m.log.Debug("entry written", entryAttrs(r.e)...)
	m.checkOwn(r)
	m.broadcast(r, true)
	m.subs.notify()
	return r.e.clone()
}

// writeAtLeast is write with a version floor.
func (s *store) writeAtLeast(owner string, e Entry, floor uint64, now time.Time) record {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.Owner = owner
	e.Version = max(s.records[e.id()].e.Version+1, min(floor, MaxVersion))
	e.Seq = s.seq.next()
	r := record{e: e.clone()}
	if e.Deleted {
		r.stamp = now.UnixMilli()
	}
	r = r.normalize()
	s.put(r)
	s.marks.wrote(r)
	return r
}
