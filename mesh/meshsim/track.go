package meshsim

import (
	"slices"
	"time"
)

// write is a tracked local write: when it was made, and which of the
// hosts that were members then hold it (or a later version of its key).
type write struct {
	kind, key string
	version   uint64
	at        int64
	has       []bool
	missing   int
	done      int64 // when the last host got it; 0 while missing > 0
}

// tracker follows the writes not yet on every host.
type tracker struct {
	s       *Sim
	pending []*write
	// finished keeps every completed write since the last reset, for the
	// percentiles.
	finished []*write
}

func newTracker(s *Sim) *tracker { return &tracker{s: s} }

// add tracks a write h has just made.
func (t *tracker) add(h *host, kind, key string) *write {
	v, _ := h.node.Version(kind, key)
	w := &write{kind: kind, key: key, version: v, at: t.s.now, has: make([]bool, len(t.s.hosts))}
	for i := range w.has {
		w.has[i] = !t.s.hosts[i].member
		if !w.has[i] {
			w.missing++
		}
	}
	t.pending = append(t.pending, w)
	t.check(w, h)
	return w
}

// check marks w as held by h if h holds its version or a later one.
func (t *tracker) check(w *write, h *host) {
	if w.done != 0 || h.id >= len(w.has) || w.has[h.id] {
		return
	}
	if v, ok := h.node.Version(w.kind, w.key); !ok || v < w.version {
		return
	}
	w.has[h.id] = true
	w.missing--
	if w.missing == 0 {
		w.done = t.s.now
		if w.done == w.at {
			w.done++ // a write on a lone host is done at once; keep done != 0
		}
		t.finished = append(t.finished, w)
		t.pending = slices.DeleteFunc(t.pending, func(p *write) bool { return p == w })
	}
}

// latest returns the newest pending write of (kind, key), or nil.
func (t *tracker) latest(kind, key string) *write {
	for i := len(t.pending) - 1; i >= 0; i-- {
		if w := t.pending[i]; w.kind == kind && w.key == key {
			return w
		}
	}
	return nil
}

// checkAll checks every pending write at h, after a push/pull.
func (t *tracker) checkAll(h *host) {
	for _, w := range slices.Clone(t.pending) {
		t.check(w, h)
	}
}

// spread returns how long each write finished since start took to reach
// every host.
func (t *tracker) spread(since int64) []time.Duration {
	var out []time.Duration
	for _, w := range t.finished {
		if w.at >= since {
			out = append(out, time.Duration(w.done-w.at))
		}
	}
	return out
}

// pendingBefore reports whether a write made before the time at is still
// missing somewhere.
func (t *tracker) pendingBefore(at int64) bool {
	for _, w := range t.pending {
		if w.at < at {
			return true
		}
	}
	return false
}
