package mesh

import (
	"encoding/binary"
	"reflect"
	"slices"
	"testing"
	"time"
)

// A newer peer's message: framed entries with fields this release does not know, flag bits it does not
// know, bytes after the body, message types it does not know. This release reads what it understands.
func TestDecodeNewerFormat(t *testing.T) {
	recs := []record{
		rec("network", "n1", "host-a", 3, `{"vni":4097}`, false),
		{e: Entry{Kind: "ep", Key: "e1", Owner: "b", Version: 9, Deleted: true}, stamp: 1700000000000},
	}
	unknownFlag := encodeFramed(framedFormat, recs[:1], nil)
	unknownFlag[len(unknownFlag)-len(`{"vni":4097}`)-2] |= 0x40 // the entry's flags byte
	tests := []struct {
		name string
		buf  []byte
		want []record
		skip int
	}{
		{"format 2, nothing new", encodeFramed(framedFormat, recs, nil), recs, 0},
		{"format 7 with a field of its own per entry", encodeFramed(7, recs, []byte{0x05, 'h', 'e', 'l', 'l', 'o'}), recs, 0},
		{"format 3 with a summary of a later format", append(encodeFramed(3, recs, nil), 4, 3, 'a', 1, 9), recs, 0},
		{"unknown flag bit", unknownFlag, recs[:1], 0},
		{"bytes after the body", append(encodeFramed(framedFormat, recs, nil), 1, 2, 3), recs, 0},
		{"one entry cut short, the others kept", framedWithBadEntry(recs), recs, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := decodeMessage(tt.buf)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if msg.kind != msgEntries || !reflect.DeepEqual(msg.entries, tt.want) || msg.skipped != tt.skip {
				t.Errorf("decoded %+v (skipped %d), want %+v (skipped %d)", msg.entries, msg.skipped, tt.want, tt.skip)
			}
		})
	}
	msg, err := decodeMessage([]byte{framedFormat, 77, 1, 2, 3})
	if err != nil || msg.kind != 77 || msg.entries != nil {
		t.Errorf("unknown message type of a newer format = %+v, %v; want it ignored without error", msg, err)
	}
	bye := append([]byte{framedFormat, msgBye}, appendString(nil, "host-a")...)
	if msg, err := decodeMessage(bye); err != nil || msg.bye != "host-a" {
		t.Errorf("bye of a newer format = %+v, %v", msg, err)
	}
}

// framedWithBadEntry puts an entry whose frame ends inside its fields between recs[0] and recs[1].
func framedWithBadEntry(recs []record) []byte {
	good := encodeFramed(framedFormat, recs, nil)
	b := []byte{framedFormat, msgEntries, byte(len(recs) + 1)}
	body := good[3:]
	first := appendString(nil, string(appendEntry(nil, recs[0])))
	b = append(b, first...)
	b = append(b, appendString(nil, "\x07network")...) // kind, then nothing
	return append(b, body[len(first):]...)
}

// This release writes format 3. The release before it wrote format 1 and read format 2 and later as far as
// format 2 goes (frames, skipping what follows format 1's fields, ignoring bytes after the body): reading a
// format 3 message as format 2 gives every entry, without its Seq, and ignores the summary.
func TestWritesFormatPreviousReleaseReads(t *testing.T) {
	recs := []record{rec("network", "n1", "host-a", 1, "v", false),
		{e: Entry{Kind: "ep", Key: "e1", Owner: "b", Version: 9, Deleted: true, Seq: 1<<32 | 7}, stamp: 1700000000000}}
	recs[0].e.Seq = 1<<32 | 3
	for name, buf := range map[string][]byte{
		"broadcast":  encodeEntries(recs),
		"full state": encodeState(recs, summary{sender: "b", through: map[string]uint64{"b": 1<<32 | 9}}),
	} {
		if buf[0] != seqFormat {
			t.Fatalf("%s: this release writes format %d, want %d", name, buf[0], seqFormat)
		}
		asPrevious := append([]byte{framedFormat}, buf[1:]...)
		msg, err := decodeMessage(asPrevious)
		want := slices.Clone(recs)
		for i := range want {
			want[i].e.Seq = 0
		}
		if err != nil || !reflect.DeepEqual(msg.entries, want) || msg.skipped != 0 {
			t.Errorf("%s read as the previous release reads it: %+v, %v; want %+v", name, msg.entries, err, want)
		}
		msg, err = decodeMessage(buf)
		if err != nil || !reflect.DeepEqual(msg.entries, recs) {
			t.Errorf("%s read back: %+v, %v; want %+v", name, msg.entries, err, recs)
		}
	}
	if encodeBye("a")[0] != seqFormat {
		t.Fatalf("bye is written in format %d, want %d", encodeBye("a")[0], seqFormat)
	}
	old := encodeFormat1(recs[:1])
	if msg, err := decodeMessage(old); err != nil || msg.entries[0].e.Key != "n1" || msg.entries[0].e.Seq != 0 {
		t.Errorf("format 1 of the previous release read as %+v, %v", msg, err)
	}
}

// encodeFormat1 writes recs as the release before format 3 did.
func encodeFormat1(recs []record) []byte {
	b := []byte{wireFormat, msgEntries}
	b = binary.AppendUvarint(b, uint64(len(recs)))
	for _, r := range recs {
		b = appendEntry(b, r)
	}
	return b
}

// A newer peer writes a kind this release does not know, next to kinds it knows, in one message of a newer
// format: the known entries are merged, the unknown one is ignored without counting as a rejection.
func TestUnknownKindIgnoredNotRejected(t *testing.T) {
	m, _ := admitNode(t, Config{Validators: testKinds()})
	d := &delegate{m: m}
	now := time.Now()
	d.NotifyMsg(encodeFramed(5, []record{
		rec("k", "a", "x", 1, "v", false),
		rec("kind-of-a-newer-release", "a", "x", 1, "v", false),
		{e: Entry{Kind: "also-newer", Key: "b", Owner: "x", Version: 2, Deleted: true}, stamp: now.UnixMilli()},
		rec("k", "b", "x", 1, "v", false),
	}, []byte{1, 2, 3}))
	for _, key := range []string{"a", "b"} {
		if _, ok := m.Get("k", key); !ok {
			t.Errorf("known entry k/%s of the same message was not merged", key)
		}
	}
	if _, ok := m.Get("kind-of-a-newer-release", "a"); ok {
		t.Error("entry of an unknown kind was merged")
	}
	st := m.Stats()
	if st.Rejected != 0 || len(m.Rejected()) != 0 || st.NotUnderstood != 2 || st.Entries != 2 {
		t.Errorf("stats %+v, rejections %+v; want 2 entries, 2 not understood, none rejected", st, m.Rejected())
	}
	m.Restore([]Entry{{Kind: "nope", Key: "a", Owner: "x", Version: 1, Value: []byte("v")}})
	if _, ok := m.Get("nope", "a"); ok || m.Stats().Rejected != 0 {
		t.Error("restored entry of an unknown kind merged or counted as rejected")
	}
}

// Two peers of different releases in one cluster: one that also knows a newer kind (it writes format 1 as
// this release does) and one that does not. Entries of shared kinds flow both ways; the newer kind stays
// with the peer that knows it and costs the other nothing but a count.
func TestMixedVersionsGossip(t *testing.T) {
	older := runAdmitNode(t, "older", testKinds())
	newerKinds := testKinds()
	newerKinds["newkind"] = func(Entry) error { return nil }
	newer := runAdmitNode(t, "newer", newerKinds, older.list.LocalNode().Address())
	waitFor(t, 10*time.Second, "both members", func() bool { return older.Members() == 2 && newer.Members() == 2 })
	newer.Set("newkind", "x", []byte("v"))
	newer.Set("k", "from-newer", []byte("v"))
	older.Set("k", "from-older", []byte("v"))
	waitFor(t, 10*time.Second, "shared kinds replicated both ways", func() bool {
		_, a := older.Get("k", "from-newer")
		_, b := newer.Get("k", "from-older")
		return a && b && older.Stats().NotUnderstood >= 1
	})
	if _, ok := older.Get("newkind", "x"); ok {
		t.Error("older peer merged a kind it does not know")
	}
	if older.Stats().Rejected != 0 || newer.Stats().Rejected != 0 {
		t.Errorf("rejections in a mixed cluster: older %+v, newer %+v", older.Rejected(), newer.Rejected())
	}
}
