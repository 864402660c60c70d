package mesh

import (
	"encoding/binary"
	"fmt"
)

// Format 2 and later: the rules that let peers of different releases share
// one cluster during a rolling upgrade (see "Format versions" in doc.go).
//
//	message  = format(1 byte, >=2) type(1 byte) body [fields of later formats]
//	entries  = count(uvarint) frame* [summary]  (type 1; summary from format 3)
//	bye      = name(string)                     (type 2)
//	frame    = length(uvarint) entry [seq(uvarint), from format 3] [fields of later formats]
//	summary  = length(uvarint) body             (see summary.go)
//
// entry is format 1's. A reader of format 2 takes what it knows from each
// frame and skips the rest of it; it ignores flag bits other than
// flagDeleted, message types it does not know and bytes after a message's
// body. A frame whose known fields do not parse is dropped alone; the
// other entries of the message stay.
const (
	// framedFormat is the first format with framed entries. A peer of
	// this release reads it and every later format, and writes
	// wireFormat, which the release before it reads.
	framedFormat = 2
	// seqFormat is the first format whose frames carry the write's Seq
	// and whose entries messages may end with a summary. This release
	// writes it (encodeEntries).
	seqFormat = 3
	// minFrameBytes bounds the entry count a decoder believes: a length
	// byte and the smallest entry.
	minFrameBytes = 1 + minEntryBytes
)

// decodeNewer reads a message of format 2 or later as far as format 2
// goes. The message's skipped field counts entries dropped for not
// parsing; an unknown message type gives a message with no content.
func decodeNewer(buf []byte) (message, error) {
	d := decoder{buf: buf[2:]}
	m := message{kind: buf[1], format: buf[0]}
	switch m.kind {
	case msgEntries:
		m.entries, m.skipped = d.frames(m.format)
		if m.format >= seqFormat && d.err == nil && len(d.buf) > 0 {
			m.summary, m.summaryErr = decodeSummary(d.raw())
		}
	case msgBye:
		m.bye = d.str()
	case msgSyncRequest:
		m.request = d.syncRequestBody()
	case msgSyncChunk:
		m.chunk = d.syncChunkBody(m.format)
	default:
		return m, nil
	}
	if d.err != nil {
		return message{}, d.err
	}
	return m, nil
}

// frames reads count(uvarint) frame*. A frame that cannot be read as an
// entry is skipped; a frame longer than the message ends the decoding.
func (d *decoder) frames(format byte) ([]record, int) {
	n := d.uvarint()
	if n > uint64(len(d.buf)/minFrameBytes) {
		d.fail(fmt.Errorf("entry count %d exceeds message size", n))
		return nil, 0
	}
	out := make([]record, 0, n)
	skipped := 0
	for i := uint64(0); i < n && d.err == nil; i++ {
		frame := d.raw()
		if d.err != nil {
			break
		}
		fd := decoder{buf: frame}
		r := fd.framedEntry(format)
		if fd.err != nil {
			skipped++
			continue
		}
		out = append(out, r)
	}
	return out, skipped
}

// framedEntry reads format 1's entry fields and, from format 3, the Seq
// after them, ignoring unknown flag bits and whatever follows the known
// fields in the frame.
func (d *decoder) framedEntry(format byte) record {
	var r record
	r.e.Kind = d.str()
	r.e.Key = d.str()
	r.e.Owner = d.str()
	r.e.Version = d.uvarint()
	if d.byte()&flagDeleted != 0 {
		r.e.Deleted = true
		r.stamp = d.varint()
	} else {
		r.e.Value = d.bytes()
	}
	if format >= seqFormat && d.err == nil && len(d.buf) > 0 {
		r.e.Seq = d.uvarint()
	}
	return r.normalize()
}

// encodeFramed writes recs in format (framedFormat or later), each frame
// holding, from format 3, the record's Seq, then ext when it is not empty:
// what a later release would send. This release sends seqFormat
// (encodeEntries); with another format or an ext, encodeFramed is how its
// tests speak as an older or newer peer.
func encodeFramed(format byte, recs []record, ext []byte) []byte {
	size := 8
	for _, r := range recs {
		size += len(r.e.Kind) + len(r.e.Key) + len(r.e.Owner) + len(r.e.Value) + len(ext) + 40
	}
	b := make([]byte, 0, size)
	b = append(b, format, msgEntries)
	b = binary.AppendUvarint(b, uint64(len(recs)))
	var e []byte
	for _, r := range recs {
		e = appendEntry(e[:0], r)
		if format >= seqFormat {
			e = binary.AppendUvarint(e, r.e.Seq)
		}
		e = append(e, ext...)
		b = appendString(b, string(e))
	}
	return b
}

// appendEntry appends r's entry fields (format 1's entry).
func appendEntry(b []byte, r record) []byte {
	b = appendString(b, r.e.Kind)
	b = appendString(b, r.e.Key)
	b = appendString(b, r.e.Owner)
	b = binary.AppendUvarint(b, r.e.Version)
	if r.e.Deleted {
		b = append(b, flagDeleted)
		return binary.AppendVarint(b, r.stamp)
	}
	b = append(b, 0)
	return appendString(b, string(r.e.Value))
}
