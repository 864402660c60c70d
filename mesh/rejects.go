package mesh

import (
	"cmp"
	"slices"
	"strconv"
	"sync"
)

// Rejection counts the records of one owner and kind that mesh refused.
type Rejection struct {
	// Owner is the peer name the records carried (quoted and shortened
	// if it was not printable).
	Owner string
	// Kind is the records' kind, shown the same way.
	Kind string
	// Count is how many records were refused.
	Count uint64
	// Last is the reason the latest one was refused.
	Last string
}

// Bounds on what rejections remember, since owners and kinds come from
// the network.
const (
	maxRejectionKeys = 256
	maxShownBytes    = 64
	otherOwners      = "(other owners)"
)

// rejections tallies refused records. Its size is bounded: past
// maxRejectionKeys (owner, kind) pairs, further ones are tallied together.
type rejections struct {
	// mu guards byKey and logged.
	mu     sync.Mutex
	byKey  map[[2]string]*Rejection
	logged map[string]bool // owners whose first rejection was logged
}

func newRejections() *rejections {
	return &rejections{byKey: map[[2]string]*Rejection{}, logged: map[string]bool{}}
}

// add counts one refusal and reports the owner as shown and whether this
// is the first refusal of that owner.
func (r *rejections) add(owner, kind, reason string) (string, bool) {
	owner, kind = printable(owner), printable(kind)
	r.mu.Lock()
	defer r.mu.Unlock()
	k := [2]string{owner, kind}
	rej, ok := r.byKey[k]
	if !ok && len(r.byKey) >= maxRejectionKeys {
		k = [2]string{otherOwners, ""}
		rej, ok = r.byKey[k]
	}
	if !ok {
		rej = &Rejection{Owner: k[0], Kind: k[1]}
		r.byKey[k] = rej
	}
	rej.Count++
	rej.Last = reason
	if r.logged[k[0]] {
		return k[0], false
	}
	r.logged[k[0]] = true
	return k[0], true
}

func (r *rejections) list() []Rejection {
	r.mu.Lock()
	out := make([]Rejection, 0, len(r.byKey))
	for _, rej := range r.byKey {
		out = append(out, *rej)
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b Rejection) int {
		return cmp.Or(cmp.Compare(a.Owner, b.Owner), cmp.Compare(a.Kind, b.Kind))
	})
	return out
}

// printable returns s if it is short printable text, else a shortened,
// quoted form, so that logs and status never carry a peer's raw bytes.
func printable(s string) string {
	if len(s) <= maxShownBytes && checkText("", s, maxShownBytes) == nil {
		return s
	}
	if len(s) > maxShownBytes {
		return strconv.Quote(s[:maxShownBytes]) + "..."
	}
	return strconv.Quote(s)
}

// maxUnknownKinds bounds the kinds remembered for logging once each.
const maxUnknownKinds = 64

// unknownKinds remembers which unknown kinds were logged. Safe for
// concurrent use.
type unknownKinds struct {
	mu   sync.Mutex
	seen map[string]bool
}

// first reports whether kind was not seen before; past maxUnknownKinds
// kinds it reports false, so a hostile peer cannot flood the log.
func (u *unknownKinds) first(kind string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.seen[kind] || len(u.seen) >= maxUnknownKinds {
		return false
	}
	u.seen[kind] = true
	return true
}
