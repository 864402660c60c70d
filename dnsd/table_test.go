package dnsd

import (
	"net/netip"
	"strings"
	"sync"
	"testing"
)

func TestTableReplace(t *testing.T) {
	tests := []struct {
		name    string
		records []Record
		lookup  string
		want    string // joined addresses in table order
		errs    []string
	}{
		{"simple", testRecords(), "web", "10.32.0.2, 10.32.1.2", nil},
		{"case and trailing dot", testRecords(), "WEB.", "10.32.0.2, 10.32.1.2", nil},
		{"v4 before v6", testRecords(), "dual", "10.32.0.9, fd00::9", nil},
		{"duplicates merged", []Record{
			{Name: "a", IP: netip.MustParseAddr("10.0.0.1")}, {Name: "A", IP: netip.MustParseAddr("10.0.0.1")},
		}, "a", "10.0.0.1", nil},
		{"v4-mapped stored as v4", []Record{{Name: "m", IP: netip.MustParseAddr("::ffff:10.0.0.7")}}, "m", "10.0.0.7", nil},
		{"invalid skipped, valid kept", []Record{
			{Name: "", IP: netip.MustParseAddr("10.0.0.1"), Network: "n1"},
			{Name: "noip", Network: "n2"},
			{Name: "bad name", IP: netip.MustParseAddr("10.0.0.2"), Network: "n3"},
			{Name: "bad..dots", IP: netip.MustParseAddr("10.0.0.3"), Network: "n4"},
			{Name: strings.Repeat("x", 64), IP: netip.MustParseAddr("10.0.0.4"), Network: "n5"},
			{Name: "ok", IP: netip.MustParseAddr("10.0.0.5"), Network: "n6"},
		}, "ok", "10.0.0.5", []string{`network "n1"`, `"noip"`, `"bad name"`, `"bad..dots"`, `network "n5"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := NewTable()
			err := tab.Replace(tt.records, nil)
			for _, e := range tt.errs {
				if err == nil || !strings.Contains(err.Error(), e) {
					t.Errorf("error %v does not mention %s", err, e)
				}
			}
			if len(tt.errs) == 0 && err != nil {
				t.Errorf("unexpected error %v", err)
			}
			var got []string
			for _, ip := range tab.Lookup(tt.lookup) {
				got = append(got, ip.String())
			}
			if joined(got) != tt.want {
				t.Errorf("Lookup(%q) = [%s], want [%s]", tt.lookup, joined(got), tt.want)
			}
		})
	}
}

func TestTableReplaceSwapsWholeSet(t *testing.T) {
	tab := NewTable()
	if err := tab.Replace(testRecords(), nil); err != nil {
		t.Fatal(err)
	}
	n := tab.Len()
	if err := tab.Replace([]Record{{Name: "other", IP: netip.MustParseAddr("10.1.1.1")}}, nil); err != nil {
		t.Fatal(err)
	}
	if tab.Lookup("web") != nil || tab.Len() != 2 || n <= 2 {
		t.Errorf("old records survived: len %d (was %d)", tab.Len(), n)
	}
}

// TestTableConcurrent lets the race detector check that lookups and
// replacements need no lock.
func TestTableConcurrent(t *testing.T) {
	h := newTestHandler(t, Config{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 200 {
			_ = h.table.Replace(testRecords(), testMembers())
		}
	})
	for range 4 {
		wg.Go(func() {
			for range 200 {
				w := &fakeWriter{}
				h.ServeDNS(w, query("web.", 1))
				if len(w.replies) != 1 || len(w.replies[0].Answer) != 2 {
					t.Errorf("torn read: %v", w.replies)
					return
				}
			}
		})
	}
	wg.Wait()
}
