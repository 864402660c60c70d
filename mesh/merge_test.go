package mesh

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// farFuture keeps property tests clear of tombstone expiry.
const farFuture = 1000 * time.Hour

func rec(kind, key, owner string, version uint64, value string, deleted bool) record {
	r := record{e: Entry{Kind: kind, Key: key, Owner: owner, Version: version, Deleted: deleted}}
	if value != "" {
		r.e.Value = []byte(value)
	}
	if deleted {
		r.stamp = 1
	}
	return r.normalize()
}

func TestCompareRecords(t *testing.T) {
	tests := []struct {
		name string
		a, b record
		want int
	}{
		{"higher version wins", rec("n", "k", "a", 2, "x", false), rec("n", "k", "z", 1, "y", false), 1},
		{"lower version loses", rec("n", "k", "z", 1, "", true), rec("n", "k", "a", 2, "x", false), -1},
		{"equal version, greater owner wins", rec("n", "k", "b", 3, "x", false), rec("n", "k", "a", 3, "y", false), 1},
		{"same owner, deleted wins", rec("n", "k", "a", 3, "", true), rec("n", "k", "a", 3, "x", false), 1},
		{"same owner, greater value wins", rec("n", "k", "a", 3, "y", false), rec("n", "k", "a", 3, "x", false), 1},
		{"identical", rec("n", "k", "a", 3, "x", false), rec("n", "k", "a", 3, "x", false), 0},
		{"empty and nil value are equal", record{e: Entry{Version: 1, Value: []byte{}}}.normalize(), record{e: Entry{Version: 1}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := compareRecords(tt.a, tt.b); got != tt.want {
				t.Errorf("compareRecords = %d, want %d", got, tt.want)
			}
			if got := compareRecords(tt.b, tt.a); got != -tt.want {
				t.Errorf("reversed compareRecords = %d, want %d", got, -tt.want)
			}
		})
	}
}

func TestStoreWriteVersions(t *testing.T) {
	s := newStore(farFuture)
	now := time.Now()
	s.merge([]record{rec("n", "k", "other", 7, "x", false)}, now)
	tests := []struct {
		name    string
		e       Entry
		wantVer uint64
	}{
		{"set above remote version", Entry{Kind: "n", Key: "k", Value: []byte("a")}, 8},
		{"delete above own version", Entry{Kind: "n", Key: "k", Deleted: true}, 9},
		{"set after delete", Entry{Kind: "n", Key: "k", Value: []byte("b")}, 10},
		{"new key starts at 1", Entry{Kind: "n", Key: "new"}, 1},
	}
	for _, tt := range tests {
		r := s.write("me", tt.e, now)
		if r.e.Version != tt.wantVer || r.e.Owner != "me" {
			t.Errorf("%s: got version %d owner %q, want %d me", tt.name, r.e.Version, r.e.Owner, tt.wantVer)
		}
	}
}

func TestStoreTombstoneExpiry(t *testing.T) {
	ttl := time.Minute
	now := time.Now()
	skewed := now.Add(-2 * ttl).UnixMilli() // a deleter whose clock is 2 ttl slow
	tomb := func(v uint64, stamp int64) record {
		return record{e: Entry{Kind: "n", Key: "k", Owner: "b", Version: v, Deleted: true}, stamp: stamp}
	}
	tests := []struct {
		name        string
		have        []record
		in          record
		wantChanged int
		wantKept    int
	}{
		{"fresh tombstone kept", nil, tomb(2, now.UnixMilli()), 1, 1},
		{"tombstone of a slow deleter kept", nil, tomb(2, skewed), 1, 1},
		{"tombstone of a slow deleter removes older live entry", []record{rec("n", "k", "a", 1, "x", false)}, tomb(2, skewed), 1, 1},
		{"tombstone loses to newer live entry", []record{rec("n", "k", "a", 3, "x", false)}, tomb(2, skewed), 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(ttl)
			s.merge(tt.have, now)
			if got := len(s.merge([]record{tt.in}, now)); got != tt.wantChanged {
				t.Errorf("changed %d, want %d", got, tt.wantChanged)
			}
			if got := len(s.all()); got != tt.wantKept {
				t.Errorf("kept %d records, want %d", got, tt.wantKept)
			}
		})
	}
	// Lifetime runs by this peer's clock from when it stored the tombstone.
	s := newStore(ttl)
	s.merge([]record{tomb(2, skewed)}, now)
	if n := s.reap(now.Add(ttl / 2)); n != 0 {
		t.Errorf("reaped %d tombstones before ttl", n)
	}
	if n := s.reap(now.Add(2 * ttl)); n != 1 {
		t.Errorf("reaped %d tombstones after ttl, want 1", n)
	}
	// Once reaped, neither the tombstone nor the entry it deleted comes back
	// from a peer that still holds them, for a further ttl.
	later := now.Add(2 * ttl)
	if got := s.merge([]record{tomb(2, skewed), rec("n", "k", "a", 1, "x", false)}, later); len(got) != 0 {
		t.Errorf("reaped tombstone or its deleted entry came back: %v", got)
	}
	if got := s.merge([]record{rec("n", "k", "a", 3, "y", false)}, later); len(got) != 1 {
		t.Errorf("a newer write after the reap was refused")
	}
	// A local write after a reap beats the reaped tombstone others may still remember.
	s2 := newStore(ttl)
	s2.merge([]record{tomb(5, skewed)}, now)
	s2.reap(later)
	if r := s2.write("me", Entry{Kind: "n", Key: "k", Value: []byte("z")}, later); r.e.Version != 6 {
		t.Errorf("write after a reap got version %d, want 6 (above the reaped tombstone)", r.e.Version)
	}
	s.reap(later.Add(2 * ttl))
	if len(s.reaped) != 0 {
		t.Errorf("reaped memory not forgotten after a further ttl: %d", len(s.reaped))
	}
}

// randomUpdates returns updates from several owners to a few keys,
// including conflicting writes at one version and exact duplicates.
// Tombstones are fresh: an expired tombstone is deliberately not kept, so
// the properties hold within TombstoneTTL.
func randomUpdates(rng *rand.Rand, n int) []record {
	owners := []string{"a", "b", "c", "d"}
	values := []string{"", "v1", "v2", "v3"}
	out := make([]record, 0, n)
	for range n {
		key := fmt.Sprintf("k%d", rng.IntN(6))
		kind := []string{"net", "ep"}[rng.IntN(2)]
		r := rec(kind, key, owners[rng.IntN(len(owners))], uint64(1+rng.IntN(5)),
			values[rng.IntN(len(values))], rng.IntN(4) == 0)
		r.e.Seq = uint64(rng.IntN(3)) // 0: a record of the release before format 3
		if r.e.Deleted {
			r.stamp = time.Now().UnixMilli() + int64(rng.IntN(3))
		}
		out = append(out, r)
		if rng.IntN(5) == 0 {
			out = append(out, r) // duplicate
		}
	}
	return out
}

func mergedState(updates []record) []record {
	s := newStore(farFuture)
	for _, u := range updates {
		s.merge([]record{u}, time.Now())
	}
	return unseen(s.all())
}

// unseen clears the local arrival time, which differs between peers.
func unseen(rs []record) []record {
	for i := range rs {
		rs[i].seen = 0
	}
	return rs
}

func TestMergeProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		updates := randomUpdates(rng, 40)
		want := mergedState(updates)

		// Commutative: any order gives the same map.
		shuffled := append([]record(nil), updates...)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if got := mergedState(shuffled); !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d: order changed the result:\n got %v\nwant %v", round, got, want)
		}

		// Associative: merging partial states (push/pull) in any grouping
		// gives the same map.
		cut := rng.IntN(len(shuffled) + 1)
		left, right := newStore(farFuture), newStore(farFuture)
		left.merge(shuffled[:cut], time.Now())
		right.merge(shuffled[cut:], time.Now())
		right.merge(left.all(), time.Now())
		if got := unseen(right.all()); !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d: grouping changed the result", round)
		}

		// Idempotent: merging everything again changes nothing.
		if changed := right.merge(updates, time.Now()); len(changed) != 0 {
			t.Fatalf("round %d: re-merge changed %d entries", round, len(changed))
		}

		// Dropped broadcasts are repaired by one full-state exchange.
		a, b := newStore(farFuture), newStore(farFuture)
		for _, u := range shuffled {
			switch rng.IntN(3) {
			case 0:
				a.merge([]record{u}, time.Now())
			case 1:
				b.merge([]record{u}, time.Now())
			} // case 2: lost by both; the full state of another peer repairs it
		}
		full := newStore(farFuture)
		full.merge(updates, time.Now())
		a.merge(b.all(), time.Now())
		a.merge(full.all(), time.Now())
		b.merge(a.all(), time.Now())
		if !reflect.DeepEqual(unseen(a.all()), want) || !reflect.DeepEqual(unseen(b.all()), want) {
			t.Fatalf("round %d: full-state repair did not converge", round)
		}
	}
}
