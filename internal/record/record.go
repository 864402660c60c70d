// Package record is the one convention of the records weavego keeps in the
// mesh's replicated map, whichever package writes them (ipalloc's pools,
// blocks and leases; reconcile's networks, endpoints, hosts' network
// records and names): how a value is encoded and decoded, how a key is
// made of parts, and what a host (peer) name may be. Admission's checks and
// the readers of the records use it alike, so a record one package writes
// is read by the same rules everywhere.
//
// # Values
//
// A value is one JSON object (Encode). Admission decodes it with Strict:
// one object and nothing after it. Fields a reader does not know are
// ignored, by Strict and Decode alike: that is how an older release reads
// a record of a newer one during a rolling upgrade, so a new field must be
// optional and must not change what the known fields mean (a change of
// meaning takes a kind of its own, as encrypted network definitions did).
//
// # Keys
//
// A key is parts joined by one separator (Join, Split). Kinds whose key
// holds an IP prefix ("10.32.0.0/24") separate with '|' (SepPrefix: the
// address allocator's pool, block and lease kinds); every other kind with
// '/' (SepPlain). The separators are part of the wire: a kind keeps its
// separator for as long as releases that write it are in a cluster. A new
// kind takes SepPlain unless its key holds a prefix.
//
// # Host names
//
// A host name, in a key or a value of any kind, is 1 to MaxHostBytes bytes
// of valid UTF-8 without control characters and without either separator
// (CheckHost), so that it never splits a key of any kind differently.
package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/weavego/weavego/mesh"
)

// Key separators (see "Keys").
const (
	// SepPlain joins the key parts of the kinds whose keys hold no prefix.
	SepPlain = "/"
	// SepPrefix joins the key parts of the kinds whose keys hold an IP
	// prefix.
	SepPrefix = "|"
)

// MaxHostBytes bounds a host name: the bound of a mesh entry's owner.
const MaxHostBytes = mesh.MaxOwnerBytes

// Encode returns v, a record type (a plain struct), as JSON.
func Encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("record: a record type does not marshal: %v", err))
	}
	return b
}

// Strict decodes exactly one JSON object and nothing after it: the form
// admission requires.
func Strict[T any](b []byte) (T, error) {
	var v T
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(&v); err != nil {
		return v, fmt.Errorf("value is not a JSON record: %w", err)
	}
	if d.More() {
		return v, errors.New("value has data after its JSON record")
	}
	return v, nil
}

// Decode reads a value admission has let in (or this host wrote); false if
// it does not decode.
func Decode[T any](b []byte) (T, bool) {
	v, err := Strict[T](b)
	return v, err == nil
}

// Join makes a key of parts with sep.
func Join(sep string, parts ...string) string { return strings.Join(parts, sep) }

// Split splits key into exactly n parts at sep; false if it has another
// number of parts or an empty one.
func Split(sep, key string, n int) ([]string, bool) {
	parts := strings.Split(key, sep)
	if len(parts) != n {
		return nil, false
	}
	for _, p := range parts {
		if p == "" {
			return nil, false
		}
	}
	return parts, true
}

// CheckHost checks a host name (see "Host names"); what names it in the
// error.
func CheckHost(what, s string) error {
	if s == "" || len(s) > MaxHostBytes || !utf8.ValidString(s) ||
		strings.ContainsAny(s, SepPlain+SepPrefix) || strings.ContainsFunc(s, isControl) {
		return fmt.Errorf("%s %.64q is not a host name: 1 to %d bytes of text without control characters, '/' or '|'",
			what, s, MaxHostBytes)
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
