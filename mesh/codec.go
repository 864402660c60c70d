package mesh

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// Wire format. encoding/json would base64 every value and repeat field
// names; encoding/gob sends type descriptors with every message, which
// costs a large share of a ~1,350-byte UDP gossip packet. A hand-written
// varint format is the most compact, is deterministic, and its decoder
// checks every length against the bytes left, which the fuzz target
// exercises.
//
//	message  = format(1 byte) type(1 byte) body
//	entries  = count(uvarint) entry*            (type 1)
//	bye      = name(string)                     (type 2)
//	entry    = kind key owner(string) version(uvarint) flags(1 byte)
//	           (flags&1 ? stamp(varint) : value(bytes))
//	string, bytes = length(uvarint) data
//
// Format 1 is the layout above; this release still reads it (the release
// before format 3 wrote it). From format 2 on (format.go) every entry is
// framed by its length and may carry fields a reader does not know; this
// release writes format 3. See "Format versions" in doc.go.
const (
	wireFormat = 1

	msgEntries = 1
	msgBye     = 2

	flagDeleted = 1

	// minEntryBytes is the smallest encoded entry: three empty strings,
	// version, flags and an empty value. It bounds the count a decoder
	// will believe.
	minEntryBytes = 6
)

// errTruncated reports a message that ends in the middle of a field.
var errTruncated = errors.New("message truncated")

// message is a decoded gossip message.
type message struct {
	kind    byte
	entries []record
	bye     string
	// format is the sender's format when newer than wireFormat, else 0.
	format byte
	// skipped counts entries of a newer format that did not parse.
	skipped int
	// summary is what the sender vouches for (a full state of format 3
	// or later), nil if it sent none; summaryErr says why one that was
	// sent could not be read.
	summary    *summary
	summaryErr error
	// request and chunk are the messages of sync by difference.
	request *syncRequest
	chunk   *syncChunk
}

// encodeEntries writes recs as this release sends them: format 3.
func encodeEntries(recs []record) []byte { return encodeFramed(seqFormat, recs, nil) }

// encodeState writes a full state: recs and, after them, the summary of
// what the sender vouches for.
func encodeState(recs []record, sum summary) []byte {
	return appendString(encodeEntries(recs), string(sum.append(nil)))
}

func encodeBye(name string) []byte {
	return appendString([]byte{seqFormat, msgBye}, name)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decodeMessage parses a message from another peer. It never panics and
// never keeps a reference to buf: every string and value is copied. A
// message of a newer format is read as far as this peer understands it
// (decodeNewer).
func decodeMessage(buf []byte) (message, error) {
	if len(buf) < 2 {
		return message{}, errTruncated
	}
	switch {
	case buf[0] >= framedFormat:
		return decodeNewer(buf)
	case buf[0] != wireFormat:
		return message{}, fmt.Errorf("unknown wire format %d", buf[0])
	}
	d := decoder{buf: buf[2:]}
	m := message{kind: buf[1]}
	switch m.kind {
	case msgEntries:
		m.entries = d.entries()
	case msgBye:
		m.bye = d.str()
	default:
		return message{}, fmt.Errorf("unknown message type %d", m.kind)
	}
	if d.err == nil && len(d.buf) != 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.buf))
	}
	if d.err != nil {
		return message{}, d.err
	}
	return m, nil
}

// decoder reads fields from buf; after the first error every read returns
// a zero value and err keeps that first error.
type decoder struct {
	buf []byte
	err error
}

func (d *decoder) entries() []record {
	n := d.uvarint()
	if n > uint64(len(d.buf)/minEntryBytes) {
		d.fail(fmt.Errorf("entry count %d exceeds message size", n))
		return nil
	}
	out := make([]record, 0, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		out = append(out, d.entry())
	}
	return out
}

func (d *decoder) entry() record {
	var r record
	r.e.Kind = d.str()
	r.e.Key = d.str()
	r.e.Owner = d.str()
	r.e.Version = d.uvarint()
	switch flags := d.byte(); flags {
	case 0:
		r.e.Value = d.bytes()
	case flagDeleted:
		r.e.Deleted = true
		r.stamp = d.varint()
	default:
		d.fail(fmt.Errorf("unknown entry flags %#x", flags))
	}
	return r.normalize()
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.buf = nil
}

func (d *decoder) byte() byte {
	if len(d.buf) < 1 {
		d.fail(errTruncated)
		return 0
	}
	c := d.buf[0]
	d.buf = d.buf[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.fail(errTruncated)
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.buf)
	if n <= 0 {
		d.fail(errTruncated)
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

// raw returns the next length-prefixed field without copying it.
func (d *decoder) raw() []byte {
	n := d.uvarint()
	if n > uint64(len(d.buf)) {
		d.fail(errTruncated)
		return nil
	}
	b := d.buf[:n]
	d.buf = d.buf[n:]
	return b
}

func (d *decoder) str() string { return string(d.raw()) }

func (d *decoder) bytes() []byte {
	b := d.raw()
	if len(b) == 0 {
		return nil
	}
	return bytes.Clone(b)
}
