package mesh

import (
	"cmp"
	"slices"
)

// Watermarks make an old message harmless: per writer W, through[W] says
// that this peer holds every write of W with Seq <= through[W], or what
// replaced it. A record at or below its writer's watermark that does not
// beat what the store holds is ignored as usual; one that would beat it
// cannot be a write this peer lacks, so it is a replay (a message recorded
// on the underlay and sent again after what replaced it was forgotten,
// such as a tombstone reaped everywhere) and is ignored and counted
// (Stats.Stale). A record without Seq from a writer with a watermark is
// also old: that writer has upgraded and writes every record with one.
//
// A watermark only rises: through this peer's own writes (seq.go), and
// after merging a full state whose summary vouches for a higher one
// (vouch). Broadcasts never raise one: they arrive out of order and the
// gossip queue drops a broadcast that a newer write of the same key
// replaced, so gaps in a writer's seqs are normal.
//
// Refusals stop a watermark: a record this peer refused (a cap reached, a
// kind only a newer release knows) may be accepted later, so no watermark
// rises to it until the store holds something that replaced it. A local
// refusal then never turns into a record ignored for ever.
const (
	// maxWatermarks bounds the writers this peer keeps a watermark for,
	// far above any cluster's hosts: beyond it, a new writer's records
	// are merged as before format 3, without replay protection.
	maxWatermarks = 1 << 16
	// maxRefusedPerWriter bounds the refused writes kept per writer;
	// beyond it the lowest are kept, which is what stops the watermark.
	maxRefusedPerWriter = 16
	// maxRefusedWriters bounds the writers with refused writes kept.
	maxRefusedWriters = 1 << 12
)

// watermarks is the per-writer state of the replay rule; the store's mu
// guards it.
type watermarks struct {
	through map[string]uint64
	// refused holds, per writer, the refused writes with a Seq, lowest
	// first; sticky is the lowest Seq of those not kept (overflow), which
	// stops the writer's watermark until this peer restarts.
	refused map[string][]record
	sticky  map[string]uint64
}

func newWatermarks() watermarks {
	return watermarks{through: map[string]uint64{}, refused: map[string][]record{}, sticky: map[string]uint64{}}
}

// isStale reports whether r, which would beat what the store holds for
// its key, is an old message by the rule above.
func (w *watermarks) isStale(r record) bool {
	t := w.through[r.e.Owner]
	return t > 0 && r.e.Seq <= t
}

// wrote raises the watermark of this peer's own write.
func (w *watermarks) wrote(r record) {
	if r.e.Seq > w.through[r.e.Owner] {
		w.through[r.e.Owner] = r.e.Seq
	}
}

// noteRefused remembers a refused write so that no watermark rises to it.
func (w *watermarks) noteRefused(r record) {
	if r.e.Seq == 0 {
		return
	}
	o := r.e.Owner
	list, ok := w.refused[o]
	if !ok && len(w.refused) >= maxRefusedWriters {
		return
	}
	i, found := slices.BinarySearchFunc(list, r.e.Seq, func(x record, s uint64) int {
		return cmp.Compare(x.e.Seq, s)
	})
	if found {
		return
	}
	list = slices.Insert(list, i, record{e: Entry{Kind: r.e.Kind, Key: r.e.Key, Owner: o,
		Version: r.e.Version, Deleted: r.e.Deleted, Seq: r.e.Seq}})
	if len(list) > maxRefusedPerWriter {
		last := list[len(list)-1].e.Seq
		if s, ok := w.sticky[o]; !ok || last < s {
			w.sticky[o] = last
		}
		list = list[:maxRefusedPerWriter]
	}
	w.refused[o] = list
}

// floor is the highest watermark writer may have given its refused writes.
func (w *watermarks) floor(writer string) uint64 {
	f := uint64(1<<64 - 1)
	if list := w.refused[writer]; len(list) > 0 {
		f = list[0].e.Seq - 1
	}
	if s, ok := w.sticky[writer]; ok {
		f = min(f, s-1)
	}
	return f
}

// vouch raises watermarks to what sum vouches for, after the state it came
// with was merged, below each writer's refused writes. held returns the
// record the store holds for a refused write's key: a refused write that
// something replaced no longer stops its writer. It returns the highest
// Seq sum vouches for self, the caller's own name.
func (w *watermarks) vouch(sum *summary, self string, held func(id) (record, bool)) (ownSeen uint64) {
	for o, list := range w.refused {
		list = slices.DeleteFunc(list, func(r record) bool {
			cur, ok := held(r.e.id())
			return ok && compareRecords(cur, r) >= 0
		})
		if len(list) == 0 {
			delete(w.refused, o)
			continue
		}
		w.refused[o] = list
	}
	for o, t := range sum.through {
		if o == self {
			ownSeen = t
			continue
		}
		t = min(t, w.floor(o))
		if _, ok := w.through[o]; !ok && len(w.through) >= maxWatermarks {
			continue
		}
		if t > w.through[o] {
			w.through[o] = t
		}
	}
	return ownSeen
}

// snapshot returns a copy of the watermarks, for a summary or the state
// file.
func (w *watermarks) snapshot() map[string]uint64 {
	out := make(map[string]uint64, len(w.through))
	for o, t := range w.through {
		out[o] = t
	}
	return out
}

// restore raises watermarks to saved ones (a restart): they are this
// peer's own view, not a message, so no floor applies.
func (w *watermarks) restore(saved map[string]uint64) {
	for o, t := range saved {
		if _, ok := w.through[o]; !ok && len(w.through) >= maxWatermarks {
			continue
		}
		if t > w.through[o] {
			w.through[o] = t
		}
	}
}
