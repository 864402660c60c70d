package mesh

import (
	"encoding/binary"
	"fmt"
)

// Format 2 and later: the rules that let peers of different releases share
// one cluster during a rolling upgrade (see "Format versions" in doc.go).
//
//	message  = format(1 byte, >=2) type(1 byte) body [fields of later formats]
//	entries  = count(uvarint) frame*            (type 1)
//	bye      = name(string)                     (type 2)
//	frame    = length(uvarint) entry [fields of later formats]
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
		m.entries, m.skipped = d.frames()
	case msgBye:
		m.bye = d.str()
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
func (d *decoder) frames() ([]record, int) {
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
		r := fd.framedEntry()
		if fd.err != nil {
			skipped++
			continue
		}
		out = append(out, r)
	}
	return out, skipped
}

// framedEntry reads format 1's entry fields, ignoring unknown flag bits
// and whatever follows the known fields in the frame.
func (d *decoder) framedEntry() record {
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
	return r.normalize()
}

// encodeFramed writes recs in format (framedFormat or later), each frame
// followed by ext when it is not empty: what a later release would send.
// This release sends wireFormat (encodeEntries); encodeFramed is how its
// tests speak as a newer peer, and what the next release starts from.
func encodeFramed(format byte, recs []record, ext []byte) []byte {
	b := []byte{format, msgEntries}
	b = binary.AppendUvarint(b, uint64(len(recs)))
	for _, r := range recs {
		e := appendEntry(nil, r)
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
