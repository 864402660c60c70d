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
}

// ownerLimits caps the records and bytes (see recordBytes) one owner may
// hold in the store.
type ownerLimits struct {
	entries, bytes int
}

// ownerUsage is what one owner holds in the store.
type ownerUsage struct {
	entries, bytes int
}

func newStore(ttl time.Duration) *store {
	return &store{ttl: ttl, records: make(map[id]record), usage: make(map[string]ownerUsage),
		reaped: make(map[id]record), limits: ownerLimits{entries: DefaultOwnerMaxEntries, bytes: DefaultOwnerMaxBytes}}
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
	s.usage[r.e.Owner] = u
}

// drop removes the record k, if any, keeping usage in step; mu is held.
func (s *store) drop(k id) {
	cur, ok := s.records[k]
	if !ok {
		return
	}
	delete(s.records, k)
	u := s.usage[cur.e.Owner]
	u.entries--
	u.bytes -= recordBytes(cur)
	if u.entries <= 0 {
		delete(s.usage, cur.e.Owner)
		return
	}
	s.usage[cur.e.Owner] = u
}

// fits reports whether storing r (in place of cur, if had) keeps r's owner
// within its limits; mu is held.
func (s *store) fits(r, cur record, had bool) bool {
	u := s.usage[r.e.Owner]
	n, b := u.entries+1, u.bytes+recordBytes(r)
	if had && cur.e.Owner == r.e.Owner {
		n, b = n-1, b-recordBytes(cur)
	}
	return n <= s.limits.entries && b <= s.limits.bytes
}

// write records a local Set or Delete: the new version is one more than the
// highest version known for the key, so it beats every version seen so far.
func (s *store) write(owner string, e Entry, now time.Time) record {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.Owner = owner
	// A tombstone reaped here may still be remembered by others: beat it too.
	e.Version = max(s.records[e.id()].e.Version, s.reaped[e.id()].e.Version) + 1
	r := record{e: e.clone()}
	if e.Deleted {
		r.stamp, r.seen = now.UnixMilli(), now.UnixMilli()
	}
	r = r.normalize()
	delete(s.reaped, e.id())
	s.put(r)
	return r
}

// merge applies remote records and returns those that changed the map, in
// input order; see mergeCapped.
func (s *store) merge(in []record, now time.Time) []record {
	changed, _ := s.mergeCapped(in, now)
	return changed
}

// mergeCapped applies remote records and returns those that changed the
// map, in input order, and those refused because their owner would exceed
// its limits. A record that does not beat the current one changes nothing.
// A record that does not beat a tombstone reaped here within the last ttl
// is ignored: the peer that sent it has not reaped it yet, or returns after
// a long absence with the entry the tombstone deleted.
func (s *store) mergeCapped(in []record, now time.Time) (changed, refused []record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range in {
		r = r.normalize()
		r.seen = 0
		cur, ok := s.records[r.e.id()]
		if ok && compareRecords(r, cur) <= 0 {
			continue
		}
		if gone, was := s.reaped[r.e.id()]; was && compareRecords(r, gone) <= 0 {
			continue
		}
		if r.e.Deleted {
			r.seen = now.UnixMilli()
		}
		delete(s.reaped, r.e.id())
		if !s.fits(r, cur, ok) {
			refused = append(refused, r)
			continue
		}
		r.e = r.e.clone()
		s.put(r)
		changed = append(changed, r)
	}
	return changed, refused
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
	out := make([]record, 0, len(s.records))
	for _, r := range s.records {
		out = append(out, r)
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b record) int {
		return cmp.Or(cmp.Compare(a.e.Kind, b.e.Kind), cmp.Compare(a.e.Key, b.e.Key))
	})
	return out
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
