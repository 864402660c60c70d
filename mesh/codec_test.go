package mesh

import (
	"reflect"
	"testing"
	"time"
)

func TestCodecRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		recs []record
	}{
		{"empty state", []record{}},
		{"live entry", []record{rec("network", "n1", "host-a", 3, `{"vni":4097}`, false)}},
		{"tombstone", []record{{e: Entry{Kind: "ep", Key: "e1", Owner: "b", Version: 9, Deleted: true}, stamp: 1700000000000}}},
		{"empty value", []record{rec("name", "", "", 1, "", false)}},
		{"several", []record{
			rec("a", "1", "x", 1, "v", false),
			{e: Entry{Kind: "a", Key: "2", Owner: "y", Version: 1 << 60, Deleted: true}, stamp: -5},
			rec("b", "ünïcode", "z", 2, string([]byte{0, 255, 1}), false),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := decodeMessage(encodeEntries(tt.recs))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if msg.kind != msgEntries || !reflect.DeepEqual(msg.entries, tt.recs) {
				t.Errorf("round trip = %+v, want %+v", msg.entries, tt.recs)
			}
		})
	}
	msg, err := decodeMessage(encodeBye("host-a"))
	if err != nil || msg.kind != msgBye || msg.bye != "host-a" {
		t.Errorf("bye round trip = %+v, %v", msg, err)
	}
}

func TestDecodeRejects(t *testing.T) {
	good := encodeFormat1([]record{rec("k", "key", "o", 1, "value", false)})
	tests := []struct {
		name string
		buf  []byte
	}{
		{"nil", nil},
		{"one byte", []byte{wireFormat}},
		{"format 0", []byte{0, msgEntries, 0}},
		{"newer format, frame past the end", []byte{framedFormat, msgEntries, 1, 9, 0}},
		{"unknown type", []byte{wireFormat, 42, 0}},
		{"truncated", good[:len(good)-1]},
		{"trailing bytes", append(append([]byte(nil), good...), 0)},
		{"huge count", []byte{wireFormat, msgEntries, 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"huge string", []byte{wireFormat, msgEntries, 1, 0xff, 0xff, 0x03, 'a', 'b', 'c', 'd', 'e', 'f'}},
		{"bad flags", []byte{wireFormat, msgEntries, 1, 0, 0, 0, 1, 7, 0}},
		{"bad varint", []byte{wireFormat, msgEntries, 0x80}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if msg, err := decodeMessage(tt.buf); err == nil {
				t.Errorf("decodeMessage(%x) = %+v, want error", tt.buf, msg)
			}
		})
	}
}

func TestDecodeCopiesBuffer(t *testing.T) {
	buf := encodeEntries([]record{rec("k", "key", "o", 1, "value", false)})
	msg, err := decodeMessage(buf)
	if err != nil {
		t.Fatal(err)
	}
	for i := range buf {
		buf[i] = 'X'
	}
	if e := msg.entries[0].e; e.Key != "key" || string(e.Value) != "value" {
		t.Errorf("decoded entry changed with the input buffer: %+v", e)
	}
}

// FuzzDecodeMessage checks that no input makes the decoder panic and that
// whatever decodes re-encodes to an equivalent message.
func FuzzDecodeMessage(f *testing.F) {
	f.Add(encodeEntries([]record{rec("network", "n1", "a", 1, "v", false)}))
	f.Add(encodeEntries([]record{{e: Entry{Kind: "k", Deleted: true, Version: 3}, stamp: 99}}))
	f.Add(encodeBye("peer"))
	f.Add([]byte{wireFormat, msgEntries, 0xff, 0xff})
	f.Add(encodeFramed(framedFormat, []record{rec("network", "n1", "a", 1, "v", false)}, []byte{1, 2}))
	f.Add(encodeState([]record{rec("network", "n1", "a", 1, "v", false)}, summary{sender: "a",
		through: map[string]uint64{"a": 1<<32 | 1}, held: map[string]heldWrites{"a": {entries: 1, digest: 5}}}))
	f.Add(syncRequest{from: "b", nonce: 7, writers: []string{"a", "c"}}.encode())
	f.Add(encodeChunks(7, "a", 9, []record{rec("network", "n1", "a", 1, "v", false)})[0])
	f.Fuzz(func(t *testing.T, buf []byte) {
		msg, err := decodeMessage(buf)
		if err == nil && msg.kind == msgSyncChunk {
			again, err := decodeMessage(encodeChunks(msg.chunk.nonce, msg.chunk.writer, msg.chunk.through, msg.chunk.recs)[0])
			if err != nil || !reflect.DeepEqual(again.chunk.recs, msg.chunk.recs) {
				t.Fatalf("re-encoded chunk reads back as %+v, %v", again.chunk, err)
			}
		}
		if err != nil || msg.kind != msgEntries {
			return
		}
		again, err := decodeMessage(encodeEntries(msg.entries))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !reflect.DeepEqual(again.entries, msg.entries) {
			t.Fatalf("re-encode changed entries: %+v vs %+v", again.entries, msg.entries)
		}
		s := newStore(farFuture)
		s.merge(msg.entries, time.Now())
	})
}
