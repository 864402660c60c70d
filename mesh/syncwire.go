package mesh

import (
	"encoding/binary"
	"fmt"
)

// The messages of sync by difference (sync.go), of format 3; a release
// before it ignores both types.
//
//	request = requester(string) nonce(8 bytes) count(uvarint) writer(string)*   (type 3)
//	chunk   = nonce(8 bytes) writer(string) through(uvarint) last(1 byte)
//	          count(uvarint) frame*                                             (type 4)
//
// A chunk holds records of one writer, at most maxChunkBytes of them; the
// last chunk of a writer says so and carries the answerer's watermark of
// that writer, taken with the records.
const (
	msgSyncRequest = 3
	msgSyncChunk   = 4
	// maxChunkBytes bounds the records of one chunk, so that each side
	// holds one chunk's bytes at a time and a chunk passes the stream
	// guard (MaxStreamBytes) with room to spare.
	maxChunkBytes = 1 << 20
)

type syncRequest struct {
	from    string
	nonce   uint64
	writers []string
}

type syncChunk struct {
	nonce   uint64
	writer  string
	through uint64
	last    bool
	recs    []record
	// skipped counts frames that did not parse.
	skipped int
}

func (r syncRequest) encode() []byte {
	b := appendString([]byte{seqFormat, msgSyncRequest}, r.from)
	b = binary.BigEndian.AppendUint64(b, r.nonce)
	b = binary.AppendUvarint(b, uint64(len(r.writers)))
	for _, w := range r.writers {
		b = appendString(b, w)
	}
	return b
}

// encodeChunks writes recs, the records of writer, as chunks of at most
// maxChunkBytes each; there is always one, the last.
func encodeChunks(nonce uint64, writer string, through uint64, recs []record) [][]byte {
	var out [][]byte
	for first := true; first || len(recs) > 0; first = false {
		n, size := 0, 0
		for n < len(recs) && (n == 0 || size+encodedSize(recs[n]) <= maxChunkBytes) {
			size += encodedSize(recs[n])
			n++
		}
		b := []byte{seqFormat, msgSyncChunk}
		b = binary.BigEndian.AppendUint64(b, nonce)
		b = appendString(b, writer)
		b = binary.AppendUvarint(b, through)
		last := byte(0)
		if n == len(recs) {
			last = 1
		}
		b = append(b, last)
		body := encodeFramed(seqFormat, recs[:n], nil)
		out = append(out, append(b, body[2:]...))
		recs = recs[n:]
	}
	return out
}

// encodedSize is about the bytes a record takes in a frame.
func encodedSize(r record) int {
	return len(r.e.Kind) + len(r.e.Key) + len(r.e.Owner) + len(r.e.Value) + 32
}

func (d *decoder) nonce() uint64 {
	if len(d.buf) < 8 {
		d.fail(errTruncated)
		return 0
	}
	v := binary.BigEndian.Uint64(d.buf)
	d.buf = d.buf[8:]
	return v
}

// syncRequestBody reads a request's body.
func (d *decoder) syncRequestBody() *syncRequest {
	r := &syncRequest{from: d.str(), nonce: d.nonce()}
	n := d.uvarint()
	if d.err == nil && (n > uint64(len(d.buf)) || n > maxSummaryWriters) {
		d.fail(fmt.Errorf("request names %d writers in %d bytes", n, len(d.buf)))
	}
	for i := uint64(0); i < n && d.err == nil; i++ {
		r.writers = append(r.writers, d.str())
	}
	return r
}

// syncChunkBody reads a chunk's body.
func (d *decoder) syncChunkBody(format byte) *syncChunk {
	c := &syncChunk{nonce: d.nonce(), writer: d.str(), through: d.uvarint(), last: d.byte() == 1}
	if d.err != nil {
		return c
	}
	c.recs, c.skipped = d.frames(format)
	return c
}
