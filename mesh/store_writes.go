package mesh

// The store's side of write identities, watermarks and summaries (seq.go,
// watermarks.go, summary.go): what it vouches for, what it holds of each
// writer, and this peer's own records when it must write them anew.

// recordDigest is one record's share of its owner's digest. Identities
// (Seq) alone would do for records of format 3; Version and Deleted make
// the digest tell records without one apart too.
func recordDigest(r record) uint64 {
	d := uint64(0)
	if r.e.Deleted {
		d = 1
	}
	return mix64(r.e.Seq) ^ mix64(r.e.Version<<1|d) ^ mix64(uint64(len(r.e.Key))<<32|uint64(len(r.e.Kind)))
}

// mix64 is SplitMix64's finalizer: a fixed bijection, the same on every
// peer, that spreads the bits of x.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// noteRefused remembers records refused before the merge (by admission)
// so that no watermark rises to them.
func (s *store) noteRefused(recs []record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		s.marks.noteRefused(r)
	}
}

// vouch raises the watermarks to what sum vouches for, after the full
// state it came with was merged (see watermarks.go). It returns the
// highest Seq sum vouches for this peer's own writes when that is above
// its counter, else 0.
func (s *store) vouch(sum *summary) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	own := s.marks.vouch(sum, s.self, func(k id) (record, bool) {
		r, ok := s.records[k]
		return r, ok
	})
	if own > s.marks.through[s.self] {
		return own
	}
	return 0
}

// state returns every record, tombstones included, sorted by (Kind, Key),
// and the summary that vouches for them, taken together.
func (s *store) state() ([]record, summary) {
	s.mu.Lock()
	sum := s.summaryLocked()
	out := s.unsorted()
	s.mu.Unlock()
	sortRecords(out)
	return out, sum
}

// summary returns what this peer vouches for and holds, per writer.
func (s *store) summary() summary {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.summaryLocked()
}

func (s *store) summaryLocked() summary {
	sum := summary{sender: s.self, through: s.marks.snapshot(), held: make(map[string]heldWrites, len(s.usage))}
	for o, u := range s.usage {
		sum.held[o] = heldWrites{entries: u.entries, digest: u.digest}
	}
	return sum
}

// moveAbove moves this peer's write counter above seq, one of its own
// writes it did not know of, and returns the records it holds under its
// own name, which it must write anew so that they are above the
// watermarks of the peers that saw seq.
func (s *store) moveAbove(seq uint64) []record {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.seq.moveAbove(seq) {
		return nil
	}
	var own []record
	for _, r := range s.records {
		if r.e.Owner == s.self {
			own = append(own, r)
		}
	}
	return own
}

// legacyOwn returns this peer's own records written before format 3
// (without Seq), which it writes anew once so that the replay rule covers
// them.
func (s *store) legacyOwn() []record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var own []record
	for _, r := range s.records {
		if r.e.Owner == s.self && r.e.Seq == 0 {
			own = append(own, r)
		}
	}
	return own
}
