package mesh

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// syncFrom runs one exchange of sync by difference: to reads from's summary, asks for what differs, from
// answers, to merges the chunks. It returns the messages of each leg, for tests that record them, and checks
// after every chunk that check holds (nil: none).
func syncFrom(t *testing.T, from, to *Replica, check func()) (req [][]byte, chunks [][]byte) {
	t.Helper()
	req, err := to.Sync(from.Summary())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range req {
		ch, err := from.Sync(r)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range ch {
			if _, err := to.Sync(c); err != nil {
				t.Fatal(err)
			}
			if check != nil {
				check()
			}
		}
		chunks = append(chunks, ch...)
	}
	return req, chunks
}

// Random histories (writes, deletions, lost broadcasts, partitions, reaps) converge by summaries alone, and
// then an exchange asks for nothing.
func TestSyncByDifferenceConverges(t *testing.T) {
	for seed := range uint64(30) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			const n = 4
			var reps []*Replica
			var out [][]byte // the broadcast of the latest write
			for i := range n {
				i := i
				reps = append(reps, NewReplica(ReplicaConfig{Name: fmt.Sprintf("h%d", i), TombstoneTTL: time.Minute,
					Broadcast: func(m []byte) { out = append(out[:0], m) }}))
				_ = i
			}
			now := time.Now()
			for step := range 300 {
				w := reps[rng.IntN(n)]
				key := fmt.Sprintf("k%d", rng.IntN(20))
				if rng.IntN(4) == 0 {
					w.Delete("ep", key)
				} else {
					w.Set("ep", key, []byte(fmt.Sprintf("v%d", step)))
				}
				for _, r := range reps { // a broadcast reaches each other replica with probability 1/2
					if r != w && rng.IntN(2) == 0 {
						mustMerge(t, r, out[0])
					}
				}
				if rng.IntN(10) == 0 {
					a, b := reps[rng.IntN(n)], reps[rng.IntN(n)]
					if a != b {
						syncFrom(t, a, b, nil)
					}
				}
				if rng.IntN(50) == 0 {
					now = now.Add(40 * time.Second)
					for _, r := range reps {
						r.Reap(now)
					}
				}
			}
			for round := range 6 {
				for i, a := range reps {
					for j, b := range reps {
						if i != j {
							syncFrom(t, a, b, nil)
						}
					}
				}
				_ = round
			}
			for _, r := range reps[1:] {
				if !bytes.Equal(r.Map(), reps[0].Map()) {
					t.Fatalf("%s and %s hold different maps after syncing", r.LocalName(), reps[0].LocalName())
				}
			}
			for _, a := range reps {
				for _, b := range reps {
					if a == b {
						continue
					}
					if req, _ := b.Sync(a.Summary()); req != nil {
						t.Fatalf("%s asks %s for writers after convergence", b.LocalName(), a.LocalName())
					}
				}
			}
		})
	}
}

// When nothing changed, a push/pull costs a summary: its size follows the writers, not the entries.
func TestSyncIdleCostIsSummary(t *testing.T) {
	sizes := map[int]int{}
	for _, entries := range []int{10, 5000} {
		a, b := NewReplica(ReplicaConfig{Name: "a"}), NewReplica(ReplicaConfig{Name: "b"})
		for i := range entries {
			a.Set("ep", fmt.Sprint(i), []byte("a value of some length"))
			b.Set("ep", fmt.Sprint("b", i), []byte("a value of some length"))
		}
		syncFrom(t, a, b, nil)
		syncFrom(t, b, a, nil)
		if req, _ := b.Sync(a.Summary()); req != nil {
			t.Fatal("an idle exchange asked for records")
		}
		sizes[entries] = len(a.Summary())
	}
	if sizes[5000] > sizes[10]+8 {
		t.Errorf("idle summary of 2 writers: %d bytes with 10 entries each, %d with 5,000", sizes[10], sizes[5000])
	}
	t.Logf("idle summary of 2 writers: %d bytes with 10 entries each, %d with 5,000", sizes[10], sizes[5000])
}

// A recorded answer replayed later is not taken: its nonce answers no open request.
func TestSyncReplayedAnswerRefused(t *testing.T) {
	a, b := NewReplica(ReplicaConfig{Name: "a"}), NewReplica(ReplicaConfig{Name: "b"})
	a.Set("ep", "x", []byte("1"))
	_, chunks := syncFrom(t, a, b, nil)
	if len(chunks) == 0 {
		t.Fatal("no chunk to record")
	}
	a.Delete("ep", "x")
	syncFrom(t, a, b, nil)
	later := time.Now().Add(time.Hour)
	a.Reap(later)
	b.Reap(later)
	a.Reap(later.Add(time.Hour))
	b.Reap(later.Add(time.Hour))
	for _, c := range chunks {
		if _, err := b.Sync(c); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := b.Get("ep", "x"); ok {
		t.Error("a replayed answer brought back an entry deleted since")
	}
}

// An entry that another writer replaced is never absent during a sync: the drop of the replaced record waits
// for the replacement, which comes in the same exchange.
func TestSyncNoKeyAbsent(t *testing.T) {
	w, x, b := NewReplica(ReplicaConfig{Name: "w"}), NewReplica(ReplicaConfig{Name: "x"}), NewReplica(ReplicaConfig{Name: "b"})
	w.Set("ep", "k", []byte("old"))
	mustMerge(t, x, w.State())
	mustMerge(t, b, w.State())
	for i := range 3000 { // x's writes take several chunks
		x.Set("ep", fmt.Sprint("filler", i), bytes.Repeat([]byte("f"), 800))
	}
	x.Set("ep", "k", []byte("new"))
	syncFrom(t, x, b, func() {
		if _, ok := b.Get("ep", "k"); !ok {
			t.Fatal("ep/k absent in the middle of a sync")
		}
	})
	if e, _ := b.Get("ep", "k"); string(e.Value) != "new" {
		t.Errorf("ep/k after the sync = %q, want new", e.Value)
	}
}

// A host that missed a deletion whose tombstone was reaped everywhere else drops the live entry at its next
// sync, and a replay of it is stale.
func TestSyncDropsMissedDeletion(t *testing.T) {
	w := newTaped("w")
	a, b := NewReplica(ReplicaConfig{Name: "a", TombstoneTTL: time.Minute}), NewReplica(ReplicaConfig{Name: "b"})
	w.Set("ep", "gone", []byte("v"))
	w.Set("ep", "stays", []byte("v"))
	syncFrom(t, w.Replica, a, nil)
	syncFrom(t, w.Replica, b, nil)
	w.Delete("ep", "gone")
	syncFrom(t, w.Replica, a, nil) // b misses the deletion
	later := time.Now().Add(3 * time.Minute)
	for _, r := range []*Replica{w.Replica, a} {
		r.Reap(later)
		r.Reap(later.Add(3 * time.Minute))
	}
	syncFrom(t, a, b, nil)
	if _, ok := b.Get("ep", "gone"); ok {
		t.Error("b keeps an entry deleted while it was away, after syncing with a peer that forgot the tombstone")
	}
	if _, ok := b.Get("ep", "stays"); !ok {
		t.Error("b dropped an entry that is still live")
	}
}

// A cluster of the previous release's peers and this release's converges: full states with summaries among
// them, records without Seq from the old peer merged as before.
func TestSyncMixedCluster(t *testing.T) {
	newer := NewReplica(ReplicaConfig{Name: "new"})
	other := NewReplica(ReplicaConfig{Name: "new2"})
	newer.Set("ep", "a", []byte("1"))
	old := encodeFormat1([]record{rec("ep", "b", "old", 1, "2", false)}) // the old peer's full state
	mustMerge(t, newer, old)
	mustMerge(t, other, newer.State())
	mustMerge(t, newer, other.State())
	if !bytes.Equal(newer.Map(), other.Map()) {
		t.Error("mixed cluster did not converge")
	}
	if _, ok := other.Get("ep", "b"); !ok {
		t.Error("the old peer's record did not reach the other new peer")
	}
}

// An exchange that repairs a few records passes them on by gossip, each once, so that they spread at gossip's
// pace; one that brings more than maxRelay (a join, a long absence) passes on nothing: it is news to this peer
// alone, and a flood of it would crowd out new writes.
func TestSyncPassesOnWhatItRepaired(t *testing.T) {
	for _, n := range []int{3, maxRelay, maxRelay + 1} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			src := NewReplica(ReplicaConfig{Name: "a"})
			var passed []string
			dst := NewReplica(ReplicaConfig{Name: "b", PassOn: func(kind, key string, msg []byte) {
				if _, err := NewReplica(ReplicaConfig{Name: "c"}).Merge(msg); err != nil {
					t.Errorf("passed on a message another replica cannot merge: %v", err)
				}
				passed = append(passed, kind+"/"+key)
			}})
			for i := range n {
				src.Set("ep", fmt.Sprintf("k%04d", i), []byte("v"))
			}
			syncFrom(t, src, dst, nil)
			want := n
			if n > maxRelay {
				want = 0
			}
			if len(passed) != want {
				t.Fatalf("passed on %d records after a sync that brought %d, want %d", len(passed), n, want)
			}
			passed = nil
			syncFrom(t, src, dst, nil) // nothing differs now
			if len(passed) != 0 {
				t.Fatalf("passed on %d records after a sync that changed nothing", len(passed))
			}
		})
	}
}

// While an exchange is under way its peer shows what it still awaits, writer by writer, and nothing once the
// last chunk is in.
func TestSyncProgress(t *testing.T) {
	src := NewReplica(ReplicaConfig{Name: "a"})
	for i := range 3 {
		src.Set("ep", fmt.Sprintf("k%d", i), []byte("v"))
	}
	other := NewReplica(ReplicaConfig{Name: "c"})
	other.Set("ep", "kc", []byte("v"))
	syncFrom(t, other, src, nil) // src now holds the records of two writers
	dst := NewReplica(ReplicaConfig{Name: "b"})
	req, err := dst.Sync(src.Summary())
	if err != nil || len(req) != 1 {
		t.Fatalf("request: %v, %d messages", err, len(req))
	}
	if p := dst.sync.progress(time.Now()); p.Exchanges != 1 || p.Writers != 2 || len(p.From) != 1 || p.From[0] != "a" {
		t.Fatalf("progress before the answer: %+v, want 1 exchange awaiting 2 writers from a", p)
	}
	chunks, err := src.Sync(req[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range chunks {
		if _, err := dst.Sync(c); err != nil {
			t.Fatal(err)
		}
	}
	if p := dst.sync.progress(time.Now()); p.Exchanges != 0 || p.Writers != 0 {
		t.Fatalf("progress after the answer: %+v, want nothing awaited", p)
	}
}
