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
//	summary = sender(string) count(uvarint) item*
//	item    = length(uvarint) writer(string) through(uvarint) [fields of later formats]
//
// A reader takes writer and through from each item and skips the rest, so
// a later release can add fields per writer (such as a digest of the
// records it holds) without a new format.
const (
	// minSummaryItemBytes is the smallest item: its length, an empty
	// writer and a through of one byte.
	minSummaryItemBytes = 3
	// maxSummaryWriters bounds the writers a summary may name; it is far
	// above any cluster's hosts.
	maxSummaryWriters = 1 << 16
)

// summary is a peer's vouched watermarks: for each writer, every write of
// that writer with Seq <= through, or what replaced it, is in the state
// the summary came with.
type summary struct {
	sender  string
	through map[string]uint64
}

// append writes s, writers in order, so that equal summaries encode alike.
func (s summary) append(b []byte) []byte {
	b = appendString(b, s.sender)
	b = binary.AppendUvarint(b, uint64(len(s.through)))
	var item []byte
	for _, w := range slices.Sorted(maps.Keys(s.through)) {
		item = appendString(item[:0], w)
		item = binary.AppendUvarint(item, s.through[w])
		b = appendString(b, string(item))
	}
	return b
}

// decodeSummary reads a summary; it never panics and copies what it keeps.
func decodeSummary(buf []byte) (*summary, error) {
	d := decoder{buf: buf}
	s := &summary{sender: d.str()}
	n := d.uvarint()
	if d.err == nil && (n > uint64(len(d.buf)/minSummaryItemBytes) || n > maxSummaryWriters) {
		return nil, fmt.Errorf("summary names %d writers in %d bytes", n, len(d.buf))
	}
	s.through = make(map[string]uint64, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		id := decoder{buf: d.raw()}
		w := id.str()
		seq := id.uvarint()
		if id.err != nil {
			return nil, fmt.Errorf("summary item %d: %w", i, id.err)
		}
		if w == "" || len(w) > MaxOwnerBytes {
			return nil, fmt.Errorf("summary item %d names a writer of %d bytes", i, len(w))
		}
		s.through[w] = seq
	}
	if d.err != nil {
		return nil, fmt.Errorf("summary: %w", d.err)
	}
	return s, nil
}
