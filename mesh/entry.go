package mesh

import (
	"bytes"
	"cmp"
)

// Entry is one item of the replicated map, identified by (Kind, Key).
// mesh gives no meaning to Kind, Key or Value; other packages do.
//
// An Entry returned by mesh owns its Value: callers may keep or modify it
// without affecting the map.
type Entry struct {
	// Kind groups entries, e.g. "network" or "endpoint".
	Kind string
	// Key identifies the entry within its Kind.
	Key string
	// Owner is the name of the peer that wrote this version.
	Owner string
	// Version increases by one with every write of (Kind, Key).
	Version uint64
	// Value is opaque to mesh. It is nil for a tombstone.
	Value []byte
	// Deleted marks a tombstone: the entry was deleted at this Version.
	Deleted bool
	// Seq names this write in the whole cluster together with Owner: the
	// writer's own counter over all its writes (see seq.go), 0 for a
	// record written by a release before format 3.
	Seq uint64 `json:",omitempty"`
}

// id is the identity of an entry in the map.
type id struct {
	kind, key string
}

func (e Entry) id() id { return id{kind: e.Kind, key: e.Key} }

// record is an entry as the store keeps it. stamp is the deleter's wall
// clock (Unix milliseconds) for a tombstone and 0 for a live entry; it
// travels with the tombstone and orders otherwise equal tombstones.
type record struct {
	e     Entry
	stamp int64
	// seen is when this peer stored the tombstone, by its own clock (Unix
	// milliseconds); it never travels. Reaping goes by seen, so a deleter
	// whose clock is off neither shortens nor stretches the lifetime.
	seen int64
}

// normalize gives a tombstone no value and an empty value the nil form, so
// that records that mean the same thing are equal on every peer.
func (r record) normalize() record {
	if r.e.Deleted || len(r.e.Value) == 0 {
		r.e.Value = nil
	}
	if !r.e.Deleted {
		r.stamp = 0
	}
	return r
}

// compareRecords orders two versions of the same entry: the greater one wins
// a merge. The order is total (Version, then Owner, then Deleted, then
// Value, then stamp, then Seq), so "keep the greatest" is commutative,
// associative and idempotent whatever order updates arrive in. Seq comes
// last so that records of a release without it keep their order.
func compareRecords(a, b record) int {
	if c := cmp.Compare(a.e.Version, b.e.Version); c != 0 {
		return c
	}
	if c := cmp.Compare(a.e.Owner, b.e.Owner); c != 0 {
		return c
	}
	if a.e.Deleted != b.e.Deleted {
		if a.e.Deleted {
			return 1
		}
		return -1
	}
	if c := bytes.Compare(a.e.Value, b.e.Value); c != 0 {
		return c
	}
	if c := cmp.Compare(a.stamp, b.stamp); c != 0 {
		return c
	}
	return cmp.Compare(a.e.Seq, b.e.Seq)
}

// clone returns e with its own copy of Value.
func (e Entry) clone() Entry {
	if e.Value != nil {
		e.Value = bytes.Clone(e.Value)
	}
	return e
}
