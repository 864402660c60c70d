package mesh

import (
	"cmp"
	"slices"
	"sync"
	"time"
)

// store is the local replica of the entry map. It knows the merge rule and
// tombstone reaping, nothing of gossip.
type store struct {
	// ttl is how long a tombstone is kept after this peer stored it, by
	// this peer's clock. It is set at construction and never changes.
	ttl time.Duration
	// limits caps what one owner may hold; set before first use.
	limits ownerLimits

	// mu guards records and usage. It is never held while calling
	// memberlist, logging or notifying subscribers.
	mu      sync.Mutex
	records map[id]record
	usage   map[string]ownerUsage // by Owner, tombstones included
	// reaped remembers, for a further ttl, the tombstones reaped here, so
	// that a peer that stored the same tombstone a little later cannot pass
	// it back (nor the live entry it deleted) once it is gone here.
	reaped map[id]record
	// self is the name this peer writes under; seq counts its writes and
	// marks holds the replay rule's watermarks (seq.go, watermarks.go).
	self  string
	seq   writerSeq
	marks watermarks
	// total is the bytes of all records (see recordBytes), for maxBytes,
	// the cap on the whole map (0: none).
	total, maxBytes int
	// cleared are the removed hosts whose pins are refused (pins.go).
	cleared map[string]bool
}

// ownerLimits caps the records and bytes (see recordBytes) one owner may
// hold in the store.
type ownerLimits struct {
	entries, bytes int
}

// ownerUsage is what one owner holds in the store, and the digest of its
// records (see recordDigest): two peers whose usage of an owner has the
// same entries and digest hold the same writes of it.
type ownerUsage struct {
	entries, bytes int
	digest         uint64
}

func newStore(ttl time.Duration) *store {
	return &store{ttl: ttl, records: make(map[id]record), usage: make(map[string]ownerUsage),
		reaped: make(map[id]record), limits: ownerLimits{entries: DefaultOwnerMaxEntries, bytes: DefaultOwnerMaxBytes},
		marks: newWatermarks(), maxBytes: DefaultMaxMapBytes}
}

// recordBytes is what a record counts against its owner's byte cap.
func recordBytes(r record) int { return len(r.e.Kind) + len(r.e.Key) + len(r.e.Value) }

// put stores r in place of any record of the same id, keeping usage in
// step; mu is held.
func (s *store) put(r record) {
	s.drop(r.e.id())
	s.records[r.e.id()] = r
	u := s.usage[r.e.Owner]
	u.entries++
	u.bytes += recordBytes(r)
	u.digest ^= recordDigest(r)
	s.usage[r.e.Owner] = u
	s.total += recordBytes(r)
}

// drop removes the record k, if any, keeping usage in step; mu is held.
func (s *store) drop(k id) {
	cur, ok := s.records[k]
	if !ok {
		return
	}
	delete(s.records, k)
	s.total -= recordBytes(cur)
	u := s.usage[cur.e.Owner]
	u.entries--
	u.bytes -= recordBytes(cur)
	u.digest ^= recordDigest(cur)
	if u.entries <= 0 {
		delete(s.usage, cur.e.Owner)
		return
	}
	s.usage[cur.e.Owner] = u
}

// fits reports whether storing r (in place of cur, if had) keeps r's owner
// within its limits and the whole map within maxBytes; mu is held.
func (s *store) fits(r, cur record, had bool) (ownerOK, totalOK bool) {
	u := s.usage[r.e.Owner]
	n, b := u.entries+1, u.bytes+recordBytes(r)
	total := s.total + recordBytes(r)
	if had {
		total -= recordBytes(cur)
		if cur.e.Owner == r.e.Owner {
			n, b = n-1, b-recordBytes(cur)
		}
	}
	return n <= s.limits.entries && b <= s.limits.bytes, s.maxBytes <= 0 || total <= s.maxBytes
}

// write records a local Set or Delete: the new version is one more than the
// highest version known for the key, so it beats every version seen so far.
func (s *store) write(owner string, e Entry, now time.Time) record {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.Owner = owner
	// A tombstone reaped here may still be remembered by others: beat it too.
	e.Version = max(s.records[e.id()].e.Version, s.reaped[e.id()].e.Version) + 1
	e.Seq = s.seq.next()
	r := record{e: e.clone()}
	if e.Deleted {
		r.stamp, r.seen = now.UnixMilli(), now.UnixMilli()
	}
	r = r.normalize()
	delete(s.reaped, e.id())
	s.put(r)
	s.marks.wrote(r)
	return r
}

// merge applies remote records and returns those that changed the map, in
// input order; see mergeCapped.
func (s *store) merge(in []record, now time.Time) []record {
	return s.mergeCapped(in, now, true).changed
}

// merged is what a merge did with its input.
type merged struct {
	// changed are the records that changed the map, in input order.
	changed []record
	// capped would have taken their owner over its cap; full would have
	// taken the whole map over maxBytes; pins are removed hosts' entries
	// above pinVersion.
	capped, full, pins []record
	// stale counts old messages ignored by the replay rule.
	stale int
	// ownSeen is the highest Seq of this peer's own name seen above its
	// counter (0: none): it must move its counter above it.
	ownSeen uint64
}

// mergeCapped applies remote records. A record that does not beat the
// current one changes nothing. With replayRule, a record that would beat
// it but is at or below its writer's watermark is an old message and is
// ignored (watermarks.go); a restored record is this peer's own view and
// passes without it. A record without write identity (of the release
// before format 3) that does not beat a tombstone reaped here within the
// last ttl is ignored: the peer that sent it has not reaped it yet, or
// returns after a long absence with the entry the tombstone deleted. A
// record that would take its owner over its cap, or the map
// over its total, is refused, and remembered so that no watermark rises
// to it.
func (s *store) mergeCapped(in []record, now time.Time, replayRule bool) merged {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out merged
	for _, r := range in {
		r = r.normalize()
		r.seen = 0
		if r.e.Owner == s.self && r.e.Seq > s.marks.through[s.self] {
			out.ownSeen = max(out.ownSeen, r.e.Seq)
		}
		if s.pinned(r) {
			out.pins = append(out.pins, r)
			continue
		}
		cur, ok := s.records[r.e.id()]
		if ok && compareRecords(r, cur) <= 0 {
			continue
		}
		if replayRule && s.marks.isStale(r) {
			out.stale++
			continue
		}
		// A record with a write identity needs no memory of reaped
		// tombstones: the replay rule and the drops of sync by
		// difference keep what they deleted away.
		if gone, was := s.reaped[r.e.id()]; was && r.e.Seq == 0 && compareRecords(r, gone) <= 0 {
			continue
		}
		if r.e.Deleted {
			r.seen = now.UnixMilli()
		}
		delete(s.reaped, r.e.id())
		switch ownerOK, totalOK := s.fits(r, cur, ok); {
		case !ownerOK:
			out.capped = append(out.capped, r)
			s.marks.noteRefused(r)
			continue
		case !totalOK:
			out.full = append(out.full, r)
			s.marks.noteRefused(r)
			continue
		}
		r.e = r.e.clone()
		s.put(r)
		out.changed = append(out.changed, r)
	}
	return out
}

// encodedEstimate is about the bytes of the map as a full state.
func (s *store) encodedEstimate() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total + 40*len(s.records)
}

// topOwner returns the owner holding the most bytes and how many.
func (s *store) topOwner() (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name, most := "", -1
	for o, u := range s.usage {
		if u.bytes > most || u.bytes == most && o < name {
			name, most = o, u.bytes
		}
	}
	return name, most
}

// expired tells whether this peer has held the tombstone r longer than ttl.
func (s *store) expired(r record, now time.Time) bool {
	return r.e.Deleted && now.UnixMilli()-r.seen > s.ttl.Milliseconds()
}

// reap drops tombstones held longer than ttl, remembering them for a
// further ttl (see reaped), and returns how many it dropped.
func (s *store) reap(now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, r := range s.records {
		if s.expired(r, now) {
			s.drop(k)
			r.seen = now.UnixMilli()
			s.reaped[k] = r
			n++
		}
	}
	for k, r := range s.reaped {
		if now.UnixMilli()-r.seen > s.ttl.Milliseconds() {
			delete(s.reaped, k)
		}
	}
	return n
}

// get returns a copy of the entry (Kind, Key), tombstone or not.
func (s *store) get(kind, key string) (Entry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.records[id{kind: kind, key: key}]
	return r.e.clone(), ok
}

// list returns copies of the live entries of kind, sorted by key.
func (s *store) list(kind string) []Entry {
	s.mu.Lock()
	var out []Entry
	for _, r := range s.records {
		if r.e.Kind == kind && !r.e.Deleted {
			out = append(out, r.e.clone())
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b Entry) int { return cmp.Compare(a.Key, b.Key) })
	return out
}

// all returns every record, tombstones included, sorted by (Kind, Key).
// Values are shared with the store, which never modifies a stored value in
// place, so the caller may read them but must not modify them.
func (s *store) all() []record {
	s.mu.Lock()
	out := s.unsorted()
	s.mu.Unlock()
	sortRecords(out)
	return out
}

// unsorted returns every record; mu is held.
func (s *store) unsorted() []record {
	out := make([]record, 0, len(s.records))
	for _, r := range s.records {
		out = append(out, r)
	}
	return out
}

func sortRecords(recs []record) {
	slices.SortFunc(recs, func(a, b record) int {
		return cmp.Or(cmp.Compare(a.e.Kind, b.e.Kind), cmp.Compare(a.e.Key, b.e.Key))
	})
}

// counts returns the number of live entries and of tombstones.
func (s *store) counts() (live, tombstones int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.records {
		if r.e.Deleted {
			tombstones++
		} else {
			live++
		}
	}
	return live, tombstones
}
