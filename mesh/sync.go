package mesh

import (
	"cmp"
	"crypto/rand"
	"encoding/binary"
	"maps"
	"slices"
	"sync"
	"time"
)

// Sync by difference. Once every member runs format 3, a push/pull carries
// a summary instead of the whole map (summary.go): per writer, the
// sender's watermark and a count and digest of the writer's records it
// holds. A peer that finds a writer on which the two differ asks the
// sender, in one request with a fresh nonce, for that writer's records;
// the answer comes as chunks of at most maxChunkBytes, each echoing the
// nonce, and passes the same gate as every other record (admission, caps),
// but not the replay rule: it is the answerer's present state, asked for
// now, and a recorded answer carries another nonce. When the last chunk of
// every writer asked for is in, the peer drops the records of those writers
// it holds at or below the answerer's watermark that the answerer does not
// hold (the answerer vouches for holding each such write or what replaced
// it: a deletion whose tombstone was reaped, or a newer write, which
// arrived in the same exchange), and raises its watermarks to the
// answerer's. So a map whose copies agree costs one summary per push/pull,
// whatever its size, and a join fetches the map one chunk at a time.
const (
	// maxSessions bounds the exchanges a peer has asked for and not
	// finished; one more replaces the oldest, whose late chunks are then
	// ignored (a later push/pull repairs what it would have).
	maxSessions = 16
	// sessionTimeout ends an exchange whose chunks stopped coming; what
	// it merged stays, nothing is dropped and no watermark rises.
	sessionTimeout = time.Minute
	// maxRelay bounds the records an exchange may pass on by gossip. An
	// exchange that changed at most this many is a repair (writes one half
	// of a partition made, a broadcast some hosts missed): passing them on
	// spreads them at gossip's pace instead of one push/pull at a time. One
	// that changed more is a catch-up (a join, a long absence), news to
	// this peer alone, and gossip could not carry it faster than push/pull
	// anyway (see docs/mesh-format-3.md, "Heal").
	maxRelay = 256
)

// syncer is one peer's side of sync by difference, shared by Mesh and
// Replica.
type syncer struct {
	store *store
	admit *admission

	mu       sync.Mutex
	sessions map[uint64]*session
}

// session is an exchange this peer asked for.
type session struct {
	peer    string
	started time.Time
	// pending are the writers whose last chunk has not come.
	pending map[string]bool
	// through is the answerer's watermark per writer, from its last chunk.
	through map[string]uint64
	// candidates are this peer's records of the writers asked for, by
	// identity, that the answerer has not shown it holds: the drops.
	candidates map[id]uint64
	// refused is set when a chunk had a record refused: then nothing is
	// dropped, since a drop might remove what a refused record replaced.
	refused bool
	// changed are the records the exchange changed the map with, kept
	// while there are at most maxRelay of them (see relay); over is set
	// once there were more.
	changed []record
	over    bool
	// repaired counts the records the exchange changed the map with.
	repaired int
}

// keep remembers what a chunk changed, for passing on when the exchange
// completes, while the exchange stays within maxRelay.
func (s *session) keep(changed []record) {
	s.repaired += len(changed)
	if s.over || len(changed) == 0 {
		return
	}
	if len(s.changed)+len(changed) > maxRelay {
		s.over, s.changed = true, nil
		return
	}
	s.changed = append(s.changed, changed...)
}

func newSyncer(s *store, a *admission) *syncer {
	return &syncer{store: s, admit: a, sessions: map[uint64]*session{}}
}

// plan compares theirs, a summary sent without its entries, with this
// peer's and returns the request for the writers on which they differ, or
// nil when they agree, or when an exchange with the same peer is under way
// (younger than half sessionTimeout: a large join takes several push/pull
// periods); an older one is ended, the new summary superseding it.
func (y *syncer) plan(theirs *summary, now time.Time) []byte {
	mine := y.store.summary()
	var writers []string
	for _, w := range slices.Sorted(maps.Keys(theirs.held)) {
		if w == mine.sender {
			continue // this peer's own writes: it is their source
		}
		if theirs.through[w] != mine.through[w] || theirs.held[w] != mine.held[w] {
			writers = append(writers, w)
		}
	}
	if len(writers) == 0 {
		return nil
	}
	y.mu.Lock()
	defer y.mu.Unlock()
	y.expire(now)
	var oldest uint64
	for n, s := range y.sessions {
		if s.peer == theirs.sender {
			if now.Sub(s.started) < sessionTimeout/2 {
				return nil
			}
			delete(y.sessions, n)
			continue
		}
		if o, ok := y.sessions[oldest]; !ok || s.started.Before(o.started) {
			oldest = n
		}
	}
	if len(y.sessions) >= maxSessions {
		delete(y.sessions, oldest)
	}
	s := &session{peer: theirs.sender, started: now, pending: map[string]bool{}, through: map[string]uint64{},
		candidates: y.store.identities(writers)}
	for _, w := range writers {
		s.pending[w] = true
	}
	nonce := newNonce()
	y.sessions[nonce] = s
	return syncRequest{from: mine.sender, nonce: nonce, writers: writers}.encode()
}

// expire ends sessions past sessionTimeout; mu is held.
func (y *syncer) expire(now time.Time) {
	for n, s := range y.sessions {
		if now.Sub(s.started) > sessionTimeout {
			delete(y.sessions, n)
		}
	}
}

func newNonce() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:])
}

// answer returns the chunks that answer req, and how many records they
// hold: every record this peer holds of each writer asked for, with its
// watermark of that writer, taken together.
func (y *syncer) answer(req *syncRequest) ([][]byte, int) {
	if len(req.writers) > maxSummaryWriters {
		return nil, 0
	}
	recs, through := y.store.ownedBy(req.writers)
	var out [][]byte
	n := 0
	for _, w := range req.writers {
		out = append(out, encodeChunks(req.nonce, w, through[w], recs[w])...)
		n += len(recs[w])
	}
	return out, n
}

// taken is what a chunk did.
type taken struct {
	res admitted
	// unasked: the chunk answers no open request of this peer's.
	unasked bool
	// dropped counts the records dropped when the exchange completed.
	dropped int
	// done: the exchange completed; vouched is the highest Seq of this
	// peer's own that its watermarks showed above its counter (or 0).
	done bool
	own  uint64
	// relay are the records to pass on by gossip: with the last chunk of
	// an exchange that changed at most maxRelay records, those records.
	relay []record
	// large: with the last chunk, the exchange changed at least
	// offerAfter records; this peer then offers its summary to others
	// (offer.go).
	large bool
	// from is the answerer.
	from string
}

// take merges a chunk of an answer to this peer's request and, with the
// exchange's last chunk, applies the drops and raises the watermarks.
func (y *syncer) take(c *syncChunk, now time.Time) taken {
	y.mu.Lock()
	s, ok := y.sessions[c.nonce]
	if !ok || !s.pending[c.writer] {
		y.mu.Unlock()
		return taken{unasked: true}
	}
	y.mu.Unlock()
	var out taken
	recs := slices.DeleteFunc(c.recs, func(r record) bool { return r.e.Owner != c.writer })
	out.res = y.admit.admitAndMerge(y.store, recs, now, true)
	y.mu.Lock()
	defer y.mu.Unlock()
	if _, still := y.sessions[c.nonce]; !still {
		return out
	}
	if len(out.res.refused) > 0 || c.skipped > 0 || len(recs) != len(c.recs) {
		s.refused = true
	}
	for _, r := range recs {
		if seq, ok := s.candidates[r.e.id()]; ok && seq == r.e.Seq {
			delete(s.candidates, r.e.id())
		}
	}
	s.keep(out.res.changed)
	if !c.last {
		return out
	}
	delete(s.pending, c.writer)
	s.through[c.writer] = c.through
	if len(s.pending) > 0 {
		return out
	}
	delete(y.sessions, c.nonce)
	out.done = true
	out.relay, out.large, out.from = s.changed, s.repaired >= offerAfter, s.peer
	if !s.refused {
		out.dropped = y.store.dropVouched(s.candidates, s.through)
	}
	out.own = y.store.vouch(&summary{sender: s.peer, through: s.through})
	return out
}

// identities returns this peer's records of writers, by identity.
func (s *store) identities(writers []string) map[id]uint64 {
	want := map[string]bool{}
	for _, w := range writers {
		want[w] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[id]uint64{}
	for k, r := range s.records {
		if want[r.e.Owner] {
			out[k] = r.e.Seq
		}
	}
	return out
}

// ownedBy returns, per writer, the records this peer holds of it, by Seq,
// and its watermark of it, taken together.
func (s *store) ownedBy(writers []string) (map[string][]record, map[string]uint64) {
	want := map[string]bool{}
	for _, w := range writers {
		want[w] = true
	}
	s.mu.Lock()
	recs := map[string][]record{}
	through := map[string]uint64{}
	for _, r := range s.records {
		if want[r.e.Owner] {
			recs[r.e.Owner] = append(recs[r.e.Owner], r)
		}
	}
	for w := range want {
		through[w] = s.marks.through[w]
	}
	s.mu.Unlock()
	for _, list := range recs {
		slices.SortFunc(list, func(a, b record) int { return cmp.Compare(a.e.Seq, b.e.Seq) })
	}
	return recs, through
}

// dropVouched drops the candidates still held as they were (same owner,
// same Seq) whose Seq is at or below the answerer's watermark of their
// owner: the answerer holds each such write or what replaced it, and did
// not show it. Records without Seq are never dropped. It returns how many
// it dropped.
func (s *store) dropVouched(candidates map[id]uint64, through map[string]uint64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, seq := range candidates {
		r, ok := s.records[k]
		if !ok || r.e.Seq != seq || seq == 0 || seq > through[r.e.Owner] {
			continue
		}
		s.drop(k)
		n++
	}
	return n
}

// SyncProgress is what this peer's exchanges of sync by difference still
// await: after a join, how far it is from holding the whole map.
type SyncProgress struct {
	// Exchanges are the exchanges asked for and not finished, Writers the
	// writers whose records they still await, From the peers asked.
	Exchanges, Writers int
	From               []string `json:",omitempty"`
}

// progress returns what the open exchanges await.
func (y *syncer) progress(now time.Time) SyncProgress {
	y.mu.Lock()
	defer y.mu.Unlock()
	y.expire(now)
	var p SyncProgress
	for _, s := range y.sessions {
		p.Exchanges++
		p.Writers += len(s.pending)
		if !slices.Contains(p.From, s.peer) {
			p.From = append(p.From, s.peer)
		}
	}
	slices.Sort(p.From)
	return p
}
