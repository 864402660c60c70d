package record

import (
	"strings"
	"testing"
)

func TestStrictOneObject(t *testing.T) {
	type rec struct{ A int }
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{`{"A":1}`, true},
		{`{"A":1,"New":"a newer release's field"}`, true},
		{` {"A":1} `, true},
		{`{"A":1}{"A":2}`, false},
		{`{"A":1} x`, false},
		{`{"A":"one"}`, false},
		{``, false},
	} {
		v, err := Strict[rec]([]byte(tt.in))
		if (err == nil) != tt.ok || tt.ok && v.A != 1 {
			t.Errorf("Strict(%q) = %+v, %v; want ok %v", tt.in, v, err, tt.ok)
		}
		if _, ok := Decode[rec]([]byte(tt.in)); ok != tt.ok {
			t.Errorf("Decode(%q) ok = %v, want %v", tt.in, ok, tt.ok)
		}
	}
}

// One host-name rule for every kind: a name valid in one kind's key never splits another kind's key.
func TestCheckHost(t *testing.T) {
	for _, ok := range []string{"h1", "node-7.example", "ホスト", strings.Repeat("a", MaxHostBytes)} {
		if err := CheckHost("host", ok); err != nil {
			t.Errorf("CheckHost(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a/b", "a|b", "a\x00b", "a\nb", "a\x7fb", "\xff", strings.Repeat("a", MaxHostBytes+1)} {
		if err := CheckHost("host", bad); err == nil {
			t.Errorf("CheckHost(%q) accepted it", bad)
		}
	}
}

func TestJoinSplit(t *testing.T) {
	k := Join(SepPrefix, "10.32.0.0/24", "abc", "7")
	if k != "10.32.0.0/24|abc|7" {
		t.Fatalf("Join = %q", k)
	}
	if p, ok := Split(SepPrefix, k, 3); !ok || p[0] != "10.32.0.0/24" || p[2] != "7" {
		t.Fatalf("Split = %q, %v", p, ok)
	}
	for _, bad := range []string{"a|b", "a|b|c|d", "a||c", "|b|c"} {
		if _, ok := Split(SepPrefix, bad, 3); ok {
			t.Errorf("Split(%q, 3) accepted it", bad)
		}
	}
}

// Split never panics, and what it accepts joins back to the key.
func FuzzSplit(f *testing.F) {
	f.Add("7/h1", 2)
	f.Add("10.32.0.0/24|n|3", 3)
	f.Fuzz(func(t *testing.T, key string, n int) {
		n = n%5 + 1
		if n < 1 {
			n = -n + 1
		}
		for _, sep := range []string{SepPlain, SepPrefix} {
			parts, ok := Split(sep, key, n)
			if ok && Join(sep, parts...) != key {
				t.Fatalf("Split(%q, %q, %d) = %q does not join back", sep, key, n, parts)
			}
		}
	})
}
