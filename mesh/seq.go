package mesh

// Every write has an identity, (Owner, Seq): Seq is the writer's own
// counter, strictly increasing over all its writes of all keys and never
// reused, so that a peer can tell an old message from a new one without
// reading a clock (see watermarks.go).
//
//	Seq = epoch << 32 | n
//
// n counts the writes of one run of the writer and the epoch is one more
// than the saved one at each start (persist.go). No clock is read: a host
// whose clock is reset or whose VM snapshot is restored keeps its order.
// A host that learns of a Seq of its own above its counter (its state file
// was lost or restored from a backup) moves its epoch above it (moveAbove)
// and writes its records anew.
const (
	seqEpochShift = 32
	seqPerEpoch   = 1 << seqEpochShift
)

// writerSeq is this peer's write counter; the store's mu guards it.
type writerSeq struct {
	epoch, n uint64
}

// next returns the Seq of the next write.
func (w *writerSeq) next() uint64 {
	if w.epoch == 0 {
		w.epoch = 1
	}
	w.n++
	if w.n >= seqPerEpoch {
		w.epoch, w.n = w.epoch+1, 1
	}
	return w.epoch<<seqEpochShift | w.n
}

// startAfter begins a new epoch above saved, the epoch of an earlier run;
// it never moves the counter back.
func (w *writerSeq) startAfter(saved uint64) {
	if saved >= w.epoch {
		w.epoch, w.n = saved+1, 0
	}
}

// moveAbove moves the counter above seq, a write of this peer it did not
// know of; it reports whether it moved.
func (w *writerSeq) moveAbove(seq uint64) bool {
	if seq < w.epoch<<seqEpochShift|w.n {
		return false
	}
	w.epoch, w.n = seq>>seqEpochShift+1, 0
	return true
}
