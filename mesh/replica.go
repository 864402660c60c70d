package mesh

import (
	"errors"
	"log/slog"
	"sync/atomic"
	"time"
)

// Replica is one peer's copy of the entry map with Mesh's merge rule,
// tombstones and reaping, and no gossip: each local write is handed,
// encoded as Mesh would broadcast it, to the Broadcast function of its
// ReplicaConfig, and the caller delivers what it likes to other replicas
// with Merge. Package meshtest builds in-memory clusters of replicas for
// the tests of packages that need peers. All methods are safe for
// concurrent use.
type Replica struct {
	name  string
	store *store
	admit *admission
	subs  *subscribers
	send  func(msg []byte)
	pass  func(kind, key string, msg []byte)
	offer func()
	stale atomic.Uint64
	sync  *syncer
}

// ReplicaConfig configures a Replica.
type ReplicaConfig struct {
	// Name is the peer's name, the Owner of its writes. Required.
	Name string
	// TombstoneTTL is how long a tombstone is kept; default
	// DefaultTombstoneTTL.
	TombstoneTTL time.Duration
	// Broadcast receives every local write, encoded as a gossip message;
	// it is called without any lock held. nil drops the writes.
	Broadcast func(msg []byte)
	// PassOn receives each record Sync passes on, as Mesh queues it for
	// gossip after an exchange that repaired a few records: the entry's
	// kind and key (a newer message of the same entry replaces an older
	// one still queued) and the gossip message. nil drops them.
	PassOn func(kind, key string, msg []byte)
	// Offer is called when Sync completed an exchange that repaired more
	// than gossip carries: Mesh then offers its Summary to one other
	// member at random (at most once a second), which answers it with Sync
	// as after a push/pull. nil ignores it.
	Offer func()
	// Validators is Config.Validators: Merge admits a record only through
	// the same gate as Mesh (generic bounds, the validator of its kind,
	// the per-owner caps of Config's defaults). nil admits every kind that
	// fits the generic bounds.
	Validators map[string]func(Entry) error
}

// NewReplica returns an empty replica.
func NewReplica(cfg ReplicaConfig) *Replica {
	if cfg.TombstoneTTL <= 0 {
		cfg.TombstoneTTL = DefaultTombstoneTTL
	}
	if cfg.Broadcast == nil {
		cfg.Broadcast = func([]byte) {}
	}
	if cfg.PassOn == nil {
		cfg.PassOn = func(string, string, []byte) {}
	}
	if cfg.Offer == nil {
		cfg.Offer = func() {}
	}
	admit := newAdmission(Config{Validators: cfg.Validators, TombstoneTTL: cfg.TombstoneTTL},
		slog.New(slog.DiscardHandler))
	st := newStore(cfg.TombstoneTTL)
	st.self = cfg.Name
	return &Replica{name: cfg.Name, store: st, admit: admit, subs: newSubscribers(), send: cfg.Broadcast, pass: cfg.PassOn, offer: cfg.Offer,
		sync: newSyncer(st, admit)}
}

// LocalName returns the peer's name.
func (r *Replica) LocalName() string { return r.name }

// Set writes value under (kind, key) as Mesh.Set does.
func (r *Replica) Set(kind, key string, value []byte) Entry {
	return r.written(r.store.write(r.name, Entry{Kind: kind, Key: key, Value: value}, time.Now()))
}

// SetAtLeast writes value under (kind, key) as Mesh.SetAtLeast does.
func (r *Replica) SetAtLeast(kind, key string, value []byte, floor uint64) Entry {
	return r.written(r.store.writeAtLeast(r.name, Entry{Kind: kind, Key: key, Value: value}, floor, time.Now()))
}

// Delete writes a tombstone for (kind, key) as Mesh.Delete does.
func (r *Replica) Delete(kind, key string) Entry {
	return r.written(r.store.write(r.name, Entry{Kind: kind, Key: key, Deleted: true}, time.Now()))
}

func (r *Replica) written(rec record) Entry {
	r.send(encodeEntries([]record{rec}))
	r.subs.notify()
	return rec.e.clone()
}

// Get returns the entry (kind, key), which may be a tombstone.
func (r *Replica) Get(kind, key string) (Entry, bool) { return r.store.get(kind, key) }

// List returns the live entries of kind, sorted by key.
func (r *Replica) List(kind string) []Entry { return r.store.list(kind) }

// Subscribe is Mesh.Subscribe: a coalescing change signal.
func (r *Replica) Subscribe() (<-chan struct{}, func()) { return r.subs.add() }

// Notify signals the subscribers, e.g. after a membership change that the
// caller tracks.
func (r *Replica) Notify() { r.subs.notify() }

// State returns the full map, tombstones included, and its summary,
// encoded as Mesh's push/pull sends it.
func (r *Replica) State() []byte { return encodeState(r.store.state()) }

// Map returns the map alone, tombstones included, in a canonical encoding:
// two replicas hold the same map if their Maps are equal.
func (r *Replica) Map() []byte { return encodeEntries(r.store.all()) }

// Merge applies a message from another replica, a broadcast or a State,
// through Mesh's admission gate, replay rule and merge rule, and reports
// whether it changed the map; a State's summary then raises the
// watermarks as Mesh's push/pull does. Refused records are counted
// (Rejected); records of a kind without a validator are skipped as Mesh
// skips them; old messages are counted (Stale).
func (r *Replica) Merge(msg []byte) (bool, error) {
	m, err := decodeMessage(msg)
	if err == nil && m.kind != msgEntries {
		err = errNotState
	}
	if err != nil {
		return false, err
	}
	res := r.admit.admitAndMerge(r.store, m.entries, time.Now(), false)
	for _, f := range res.refused {
		if !errors.Is(f.err, errUnknownKind) {
			r.admit.rejects.add(f.r.e.Owner, f.r.e.Kind, f.err.Error())
		}
	}
	r.stale.Add(uint64(res.stale))
	own := res.ownSeen
	if m.summary != nil && m.skipped == 0 {
		own = max(own, r.store.vouch(m.summary))
	}
	if len(res.changed) > 0 {
		r.subs.notify()
	}
	if own > 0 {
		for _, rec := range r.store.moveAbove(own) {
			r.written(r.store.write(r.name, Entry{Kind: rec.e.Kind, Key: rec.e.Key, Value: rec.e.Value,
				Deleted: rec.e.Deleted}, time.Now()))
		}
	}
	return len(res.changed) > 0, nil
}

// Summary returns the summary of the map alone, as Mesh's push/pull sends
// it when every member reads format 3: the receiver answers it with Sync.
func (r *Replica) Summary() []byte {
	sum := r.store.summary()
	sum.omitted = true
	return encodeState(nil, sum)
}

// Sync handles a message of sync by difference from another replica and
// returns the messages to send back to it: a Summary gives the request for
// what differs (if anything does), a request gives the chunks of the
// answer, a chunk gives nothing. Any other message is Merge's.
func (r *Replica) Sync(msg []byte) ([][]byte, error) {
	m, err := decodeMessage(msg)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	switch {
	case m.kind == msgEntries && m.summary != nil && m.summary.omitted:
		if req := r.sync.plan(m.summary, now); req != nil {
			return [][]byte{req}, nil
		}
		return nil, nil
	case m.kind == msgSyncRequest:
		chunks, _ := r.sync.answer(m.request)
		return chunks, nil
	case m.kind == msgSyncChunk:
		t := r.sync.take(m.chunk, now)
		r.stale.Add(uint64(t.res.stale))
		for _, f := range t.res.refused {
			if !errors.Is(f.err, errUnknownKind) {
				r.admit.rejects.add(f.r.e.Owner, f.r.e.Kind, f.err.Error())
			}
		}
		if len(t.res.changed) > 0 || t.dropped > 0 {
			r.subs.notify()
		}
		for _, rec := range t.relay {
			if msg := encodeEntries([]record{rec}); len(msg) <= maxGossipBytes {
				r.pass(rec.e.Kind, rec.e.Key, msg)
			}
		}
		if t.large {
			r.offer()
		}
		return nil, nil
	}
	_, err = r.Merge(msg)
	return nil, err
}

// Stale returns how many old messages the replay rule ignored, as
// Mesh's Stats.Stale.
func (r *Replica) Stale() uint64 { return r.stale.Load() }

// Rejected returns the records Merge refused so far, per owner and kind,
// as Mesh.Rejected does.
func (r *Replica) Rejected() []Rejection { return r.admit.rejects.list() }

// Reap drops the tombstones held longer than the TombstoneTTL at now, as
// Mesh does periodically, and returns how many it dropped.
func (r *Replica) Reap(now time.Time) int {
	n := r.store.reap(now)
	if n > 0 {
		r.subs.notify()
	}
	return n
}
