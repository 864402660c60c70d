package mesh

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
)

// A summary ends every full state of format 3 or later: what its sender
// vouches for, per writer (see watermarks.go).
//
//	summary = sender(string) flags(uvarint) count(uvarint) item*
//	item    = length(uvarint) writer(string) through(uvarint) held(uvarint) digest(uvarint)
//	          [fields of later formats]
//
// held and digest are what the sender holds of that writer's records
// (ownerUsage): equal (through, held, digest) on two peers mean they hold
// the same writes of that writer. With flagOmitted, the state the summary
// ends holds no entries: the receiver asks for what differs (sync.go). A
// reader skips fields of an item it does not know, so a later release can
// add some without a new format.
const (
	// minSummaryItemBytes is the smallest item: its length, an empty
	// writer and a through of one byte.
	minSummaryItemBytes = 3
	// maxSummaryWriters bounds the writers a summary may name; it is far
	// above any cluster's hosts.
	maxSummaryWriters = 1 << 16
	// flagOmitted marks a summary sent without the entries it describes.
	flagOmitted = 1
)

// summary is a peer's vouched watermarks: for each writer, every write of
// that writer with Seq <= through, or what replaced it, is in the state
// the summary came with.
type summary struct {
	sender  string
	omitted bool
	through map[string]uint64
	// held holds, per writer, what the sender holds of its records.
	held map[string]heldWrites
}

// heldWrites is what a peer holds of one writer's records.
type heldWrites struct {
	entries int
	digest  uint64
}

// append writes s, writers in order, so that equal summaries encode alike.
func (s summary) append(b []byte) []byte {
	b = appendString(b, s.sender)
	flags := uint64(0)
	if s.omitted {
		flags |= flagOmitted
	}
	b = binary.AppendUvarint(b, flags)
	writers := slices.Sorted(maps.Keys(s.through))
	for w := range s.held {
		if _, ok := s.through[w]; !ok {
			writers = append(writers, w)
		}
	}
	slices.Sort(writers)
	b = binary.AppendUvarint(b, uint64(len(writers)))
	var item []byte
	for _, w := range writers {
		item = appendString(item[:0], w)
		item = binary.AppendUvarint(item, s.through[w])
		item = binary.AppendUvarint(item, uint64(s.held[w].entries))
		item = binary.AppendUvarint(item, s.held[w].digest)
		b = appendString(b, string(item))
	}
	return b
}

// decodeSummary reads a summary; it never panics and copies what it keeps.
func decodeSummary(buf []byte) (*summary, error) {
	d := decoder{buf: buf}
	s := &summary{sender: d.str()}
	s.omitted = d.uvarint()&flagOmitted != 0
	n := d.uvarint()
	if d.err == nil && (n > uint64(len(d.buf)/minSummaryItemBytes) || n > maxSummaryWriters) {
		return nil, fmt.Errorf("summary names %d writers in %d bytes", n, len(d.buf))
	}
	s.through = make(map[string]uint64, n)
	s.held = make(map[string]heldWrites, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		id := decoder{buf: d.raw()}
		w := id.str()
		seq := id.uvarint()
		var h heldWrites
		if len(id.buf) > 0 {
			h.entries = int(min(id.uvarint(), 1<<40))
			h.digest = id.uvarint()
		}
		if id.err != nil {
			return nil, fmt.Errorf("summary item %d: %w", i, id.err)
		}
		if w == "" || len(w) > MaxOwnerBytes {
			return nil, fmt.Errorf("summary item %d names a writer of %d bytes", i, len(w))
		}
		s.through[w] = seq
		s.held[w] = h
	}
	if d.err != nil {
		return nil, fmt.Errorf("summary: %w", d.err)
	}
	return s, nil
}
