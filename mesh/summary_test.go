package mesh

import (
	"reflect"
	"testing"
)

func TestSummaryRoundTrip(t *testing.T) {
	s := summary{sender: "a", omitted: true, through: map[string]uint64{"a": 1<<32 | 4, "b": 7, "c": 0},
		held: map[string]heldWrites{"a": {entries: 3, digest: 99}, "b": {}, "c": {entries: 1, digest: 1 << 63}}}
	got, err := decodeSummary(s.append(nil))
	if err != nil || !reflect.DeepEqual(*got, s) {
		t.Fatalf("round trip = %+v, %v; want %+v", got, err, s)
	}
	// A later release adds a field per writer: it is skipped.
	item := appendString(nil, "w")
	item = append(item, 9, 0x77, 0x78)
	b := appendString(nil, "b")
	b = append(b, 0, 1)
	b = appendString(b, string(item))
	got, err = decodeSummary(b)
	if err != nil || got.through["w"] != 9 {
		t.Fatalf("summary with a later field = %+v, %v", got, err)
	}
	for name, bad := range map[string][]byte{
		"huge count":   {1, 'a', 0xff, 0xff, 0x03},
		"empty writer": {1, 'a', 1, 2, 0, 1},
		"cut short":    s.append(nil)[:5],
	} {
		if _, err := decodeSummary(bad); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

func FuzzDecodeSummary(f *testing.F) {
	f.Add(summary{sender: "a", through: map[string]uint64{"a": 3, "b": 1 << 40}}.append(nil))
	f.Add([]byte{1, 'a', 0xff, 0xff})
	f.Fuzz(func(t *testing.T, buf []byte) {
		s, err := decodeSummary(buf)
		if err != nil {
			return
		}
		again, err := decodeSummary(s.append(nil))
		if err != nil || !reflect.DeepEqual(again, s) {
			t.Fatalf("re-encoded summary reads back as %+v, %v; want %+v", again, err, s)
		}
	})
}
