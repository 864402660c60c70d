package mesh

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"
)

// admitNode is a Mesh that gossips with nobody; tests hand it messages
// through its memberlist delegate, as a peer's would arrive.
func admitNode(t *testing.T, cfg Config) (*Mesh, *recorder) {
	t.Helper()
	rec := newRecorder()
	cfg.Name, cfg.BindAddr, cfg.BindPort, cfg.Logger = "self", "127.0.0.1", -1, slog.New(rec)
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m, rec
}

// testKinds admits kind "k" with any value but "bad", and kind "t".
func testKinds() map[string]func(Entry) error {
	return map[string]func(Entry) error{
		"k": func(e Entry) error {
			if string(e.Value) == "bad" {
				return errors.New("value is bad")
			}
			return nil
		},
		"t": func(Entry) error { return nil },
	}
}

func TestAdmitRejectsShapes(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name string
		r    record
		want string
	}{
		{"version MaxUint64", rec("k", "a", "x", math.MaxUint64, "v", false), "version"},
		{"version past the bound", rec("k", "a", "x", MaxVersion+1, "v", false), "version"},
		{"version 0", rec("k", "a", "x", 0, "v", false), "version"},
		{"oversized value", rec("k", "a", "x", 1, strings.Repeat("v", MaxValueBytes+1), false), "value of"},
		{"long key", rec("k", strings.Repeat("a", MaxKeyBytes+1), "x", 1, "v", false), "key is empty or longer"},
		{"empty key", rec("k", "", "x", 1, "v", false), "key is empty"},
		{"NUL in key", rec("k", "a\x00b", "x", 1, "v", false), "control"},
		{"invalid UTF-8 key", rec("k", "a\xffb", "x", 1, "v", false), "UTF-8"},
		{"empty owner", rec("k", "a", "", 1, "v", false), "owner"},
		{"long owner", rec("k", "a", strings.Repeat("o", MaxOwnerBytes+1), 1, "v", false), "owner"},
		{"long kind", rec(strings.Repeat("k", MaxKindBytes+1), "a", "x", 1, "v", false), "kind"},
		{"validator refuses", rec("k", "a", "x", 1, "bad", false), "value is bad"},
		{"tombstone from the future", record{e: Entry{Kind: "k", Key: "a", Owner: "x", Version: 1, Deleted: true},
			stamp: now.Add(2 * DefaultTombstoneTTL).UnixMilli()}, "future"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := admitNode(t, Config{Validators: testKinds()})
			(&delegate{m: m}).NotifyMsg(encodeEntries([]record{tc.r}))
			if _, ok := m.Get(tc.r.e.Kind, tc.r.e.Key); ok {
				t.Fatalf("entry was merged")
			}
			rej := m.Rejected()
			if len(rej) != 1 || rej[0].Count != 1 || !strings.Contains(rej[0].Last, tc.want) {
				t.Fatalf("Rejected() = %+v, want one rejection saying %q", rej, tc.want)
			}
			if st := m.Stats(); st.Rejected != 1 || st.Entries != 0 {
				t.Fatalf("stats %+v, want 1 rejected and no entry", st)
			}
		})
	}
}

func TestAdmitAcceptsGoodEntries(t *testing.T) {
	m, _ := admitNode(t, Config{Validators: testKinds()})
	d := &delegate{m: m}
	d.NotifyMsg(encodeEntries([]record{rec("k", "a", "x", MaxVersion, "v", false),
		{e: Entry{Kind: "t", Key: "b", Owner: "y", Version: 3, Deleted: true}, stamp: time.Now().UnixMilli()}}))
	d.MergeRemoteState(encodeEntries([]record{rec("k", "c", "x", 1, "w", false)}), false)
	if _, ok := m.Get("k", "a"); !ok {
		t.Fatal("entry k/a at MaxVersion was not merged")
	}
	if e, ok := m.Get("t", "b"); !ok || !e.Deleted {
		t.Fatal("tombstone t/b was not merged")
	}
	if _, ok := m.Get("k", "c"); !ok {
		t.Fatal("push/pull entry k/c was not merged")
	}
	if e := m.Set("k", "a", []byte("mine")); e.Version != MaxVersion+1 {
		t.Fatalf("local write after MaxVersion got version %d, want %d", e.Version, uint64(MaxVersion+1))
	}
	if rej := m.Rejected(); len(rej) != 0 {
		t.Fatalf("Rejected() = %+v, want none", rej)
	}
}

func TestAdmitVersionNeverWraps(t *testing.T) {
	m, _ := admitNode(t, Config{})
	(&delegate{m: m}).NotifyMsg(encodeEntries([]record{rec("k", "a", "x", math.MaxUint64, "v", false)}))
	if e := m.Set("k", "a", []byte("v")); e.Version != 1 {
		t.Fatalf("local write got version %d after a MaxUint64 entry, want 1 (the entry must be rejected)", e.Version)
	}
}

func TestAdmitOwnerCaps(t *testing.T) {
	m, logs := admitNode(t, Config{Validators: testKinds(), OwnerMaxEntries: 5, OwnerMaxBytes: 100})
	d := &delegate{m: m}
	var flood []record
	for i := range 8 {
		flood = append(flood, rec("k", "x"+string(rune('a'+i)), "greedy", 1, "v", false))
	}
	d.NotifyMsg(encodeEntries(flood))
	d.NotifyMsg(encodeEntries([]record{rec("k", "big", "fat", 1, strings.Repeat("b", 99), false)}))
	d.NotifyMsg(encodeEntries([]record{rec("k", "ok", "polite", 1, "v", false)}))
	if n := len(m.List("k")); n != 6 {
		t.Fatalf("%d entries held, want 5 of greedy and 1 of polite", n)
	}
	// greedy may still replace its own entries.
	d.NotifyMsg(encodeEntries([]record{rec("k", "xa", "greedy", 2, "w", false)}))
	if e, _ := m.Get("k", "xa"); string(e.Value) != "w" {
		t.Fatalf("greedy's update of its own entry was refused: %+v", e)
	}
	got := map[string]uint64{}
	for _, r := range m.Rejected() {
		got[r.Owner] = r.Count
	}
	if got["greedy"] != 3 || got["fat"] != 1 || got["polite"] != 0 {
		t.Fatalf("rejections %v, want greedy 3, fat 1", got)
	}
	if n := logs.count("rejecting entries from a peer"); n != 2 {
		t.Fatalf("%d rejection warnings, want one per owner (2)", n)
	}
}

func TestRestoreIsAdmitted(t *testing.T) {
	m, _ := admitNode(t, Config{Validators: testKinds()})
	m.Restore([]Entry{
		{Kind: "k", Key: "good", Owner: "x", Version: 2, Value: []byte("v")},
		{Kind: "k", Key: "wrap", Owner: "x", Version: math.MaxUint64, Value: []byte("v")},
		{Kind: "nope", Key: "a", Owner: "x", Version: 1, Value: []byte("v")},
	})
	if _, ok := m.Get("k", "good"); !ok {
		t.Fatal("good entry not restored")
	}
	if _, ok := m.Get("k", "wrap"); ok {
		t.Fatal("entry at MaxUint64 restored")
	}
	if _, ok := m.Get("nope", "a"); ok {
		t.Fatal("entry of unknown kind restored")
	}
}

func TestRejectionsBounded(t *testing.T) {
	r := newRejections()
	for i := range 3 * maxRejectionKeys {
		r.add(strings.Repeat("o", i%300+1), "k", "why")
	}
	r.add("bad\x00owner"+strings.Repeat("z", 100), "k", "why")
	list := r.list()
	if len(list) > maxRejectionKeys+1 {
		t.Fatalf("%d rejection rows, want at most %d", len(list), maxRejectionKeys+1)
	}
	for _, rej := range list {
		if len(rej.Owner) > 3*maxShownBytes || strings.ContainsRune(rej.Owner, 0) {
			t.Fatalf("owner %q shown raw", rej.Owner)
		}
	}
}

// FuzzAdmit feeds arbitrary messages through the real decode, admission
// and merge, and checks that nothing panics and that every entry held
// obeys the rules and the per-owner caps.
func FuzzAdmit(f *testing.F) {
	f.Add(encodeEntries([]record{rec("k", "a", "x", 1, "v", false)}))
	f.Add(encodeEntries([]record{rec("k", "a", "x", math.MaxUint64, "bad", false)}))
	f.Add(encodeEntries([]record{{e: Entry{Kind: "t", Key: "a", Owner: "y", Version: 9, Deleted: true}, stamp: 1 << 60}}))
	kinds := testKinds()
	adm := &admission{kinds: kinds, ttl: DefaultTombstoneTTL, rejects: newRejections(), log: slog.New(slog.DiscardHandler)}
	f.Fuzz(func(t *testing.T, buf []byte) {
		msg, err := decodeMessage(buf)
		if err != nil || msg.kind != msgEntries {
			return
		}
		m := &Mesh{store: newStore(farFuture), admit: adm, log: slog.New(slog.DiscardHandler)}
		m.store.limits = ownerLimits{entries: 3, bytes: 200}
		now := time.Now()
		m.admitAndMerge(msg.entries, now, false)
		perOwner := map[string]int{}
		for _, r := range m.store.all() {
			if err := checkShape(r, now, DefaultTombstoneTTL); err != nil {
				t.Fatalf("held %+v: %v", r.e, err)
			}
			if v := kinds[r.e.Kind]; v == nil || v(r.e) != nil {
				t.Fatalf("held %+v that its kind refuses", r.e)
			}
			perOwner[r.e.Owner]++
		}
		for o, n := range perOwner {
			if n > 3 || m.store.usage[o].entries != n {
				t.Fatalf("owner %q holds %d entries, usage says %d, cap 3", o, n, m.store.usage[o].entries)
			}
		}
	})
}

// A member writing under many invented owners stays within each owner's cap; the cap on the whole map stops
// it, and the refusal names the owner holding the most.
func TestTotalCap(t *testing.T) {
	m, logs := admitNode(t, Config{Validators: testKinds(), MaxMapBytes: 100})
	d := &delegate{m: m}
	d.NotifyMsg(encodeEntries([]record{rec("k", "mine", "big", 1, strings.Repeat("b", 40), false)}))
	var flood []record
	for i := range 20 {
		flood = append(flood, rec("k", fmt.Sprintf("x%02d", i), fmt.Sprintf("invented-%d", i), 1, "vvvvv", false))
	}
	d.NotifyMsg(encodeEntries(flood))
	held := 0
	for _, r := range m.store.all() {
		held += recordBytes(r)
	}
	if held > 100 || held < 90 {
		t.Fatalf("the map holds %d bytes, want up to its cap of 100", held)
	}
	if !logs.contains("the owner holding the most is big") {
		t.Error("the refusal does not name the owner holding the most")
	}
	// Replacing an entry in place still works at the cap.
	d.NotifyMsg(encodeEntries([]record{rec("k", "mine", "big", 2, strings.Repeat("c", 40), false)}))
	if e, _ := m.Get("k", "mine"); e.Version != 2 {
		t.Errorf("an update in place was refused at the cap: %+v", e)
	}
}
