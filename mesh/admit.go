package mesh

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"
)

// Admission bounds. Every record from another peer (broadcast, direct
// message, push/pull) and every restored one must fit them before it is
// merged; a record that does not is dropped and counted (see Rejected).
const (
	// MaxKindBytes bounds an entry's Kind.
	MaxKindBytes = 64
	// MaxKeyBytes bounds an entry's Key.
	MaxKeyBytes = 512
	// MaxOwnerBytes bounds an entry's Owner, a peer name.
	MaxOwnerBytes = 256
	// MaxValueBytes bounds an entry's Value.
	MaxValueBytes = 64 << 10
	// MaxVersion is the highest Version admitted. It is far above any
	// count of real writes and far below 2^64, so a write that follows
	// an admitted version can never wrap to 0.
	MaxVersion = 1 << 40
	// DefaultOwnerMaxEntries is the default of Config.OwnerMaxEntries.
	DefaultOwnerMaxEntries = 20000
	// DefaultOwnerMaxBytes is the default of Config.OwnerMaxBytes.
	DefaultOwnerMaxBytes = 8 << 20
	// DefaultMaxMapBytes is the default of Config.MaxMapBytes. A full
	// state travels in one stream of at most DefaultMaxStreamBytes (16
	// MiB) with about 40 bytes of framing per record, so a map of 10 MiB
	// and up to 100,000 records still reaches a joining host; a member
	// that writes more under invented owners is refused before joins
	// break.
	DefaultMaxMapBytes = 10 << 20
)

// ErrRejected is wrapped by every reason admission gives for refusing a
// record.
var ErrRejected = errors.New("entry rejected")

// errUnknownKind marks a record of a kind this peer has no validator for:
// most likely written by a newer release during a rolling upgrade. It is
// not merged, not passed on and not counted as a rejection (see "Format
// versions" in doc.go).
var errUnknownKind = errors.New("unknown kind")

// admission is mesh's one gate for records it did not write itself.
type admission struct {
	// kinds are the per-kind validators (Config.Validators); nil admits
	// every kind that fits the generic bounds. Never modified.
	kinds map[string]func(Entry) error
	// ttl bounds how far in the future a tombstone's stamp may be.
	ttl     time.Duration
	rejects *rejections
	unknown *unknownKinds
	log     *slog.Logger
}

func newAdmission(cfg Config, log *slog.Logger) *admission {
	return &admission{kinds: cfg.Validators, ttl: cfg.TombstoneTTL, rejects: newRejections(),
		unknown: &unknownKinds{seen: map[string]bool{}}, log: log}
}

// ownerLimits returns the per-owner caps of cfg with defaults applied.
func (cfg Config) ownerLimits() ownerLimits {
	l := ownerLimits{entries: cfg.OwnerMaxEntries, bytes: cfg.OwnerMaxBytes}
	if l.entries <= 0 {
		l.entries = DefaultOwnerMaxEntries
	}
	if l.bytes <= 0 {
		l.bytes = DefaultOwnerMaxBytes
	}
	return l
}

// check returns nil if r may be merged, else the reason it may not.
func (a *admission) check(r record, now time.Time) error {
	if err := checkShape(r, now, a.ttl); err != nil {
		return err
	}
	if a.kinds == nil {
		return nil
	}
	v, ok := a.kinds[r.e.Kind]
	if !ok || v == nil {
		return fmt.Errorf("%w: %w", ErrRejected, errUnknownKind)
	}
	return callValidator(v, r.e)
}

// callValidator runs a per-kind validator; one that panics on hostile
// input rejects the entry instead of stopping the process.
func callValidator(v func(Entry) error, e Entry) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: validator failed: %v", ErrRejected, p)
		}
	}()
	if err := v(e); err != nil {
		return fmt.Errorf("%w: %w", ErrRejected, err)
	}
	return nil
}

// checkShape applies the bounds that hold for every kind.
func checkShape(r record, now time.Time, ttl time.Duration) error {
	e := r.e
	if err := checkText("kind", e.Kind, MaxKindBytes); err != nil {
		return err
	}
	if err := checkText("key", e.Key, MaxKeyBytes); err != nil {
		return err
	}
	if err := checkText("owner", e.Owner, MaxOwnerBytes); err != nil {
		return err
	}
	switch {
	case e.Version == 0 || e.Version > MaxVersion:
		return fmt.Errorf("%w: version %d is outside 1..%d", ErrRejected, e.Version, uint64(MaxVersion))
	case len(e.Value) > MaxValueBytes:
		return fmt.Errorf("%w: value of %d bytes exceeds %d", ErrRejected, len(e.Value), MaxValueBytes)
	case e.Deleted && len(e.Value) != 0:
		return fmt.Errorf("%w: tombstone carries a value", ErrRejected)
	case e.Deleted && r.stamp > now.Add(ttl).UnixMilli():
		return fmt.Errorf("%w: tombstone is stamped %s in the future", ErrRejected,
			time.Duration(r.stamp-now.UnixMilli())*time.Millisecond)
	}
	return nil
}

// checkText requires 1..limit bytes of valid UTF-8 without control
// characters.
func checkText(what, s string, limit int) error {
	if s == "" || len(s) > limit {
		return fmt.Errorf("%w: %s is empty or longer than %d bytes", ErrRejected, what, limit)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrRejected, what)
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return fmt.Errorf("%w: %s contains control character %#x", ErrRejected, what, c)
		}
	}
	return nil
}

// refusal is a record admission refused and the reason; a reason that
// wraps errUnknownKind marks a kind this peer does not know.
type refusal struct {
	r   record
	err error
}

// admitted is what the gate did with a batch of records.
type admitted struct {
	// changed are the records that changed the map, in input order.
	changed []record
	// refused are the records refused and why.
	refused []refusal
	// stale counts old messages ignored by the replay rule.
	stale int
	// ownSeen is a Seq of this peer's own above its counter, or 0.
	ownSeen uint64
}

// admitAndMerge is the single path by which records a peer did not write
// enter its store s, for Mesh and Replica alike: each is checked, then
// merged under the replay rule (unless restored: this peer's own view),
// the per-owner caps and the total cap. Every refused record is also
// remembered by the store, so that no watermark rises to it.
func (a *admission) admitAndMerge(s *store, recs []record, now time.Time, restored bool) admitted {
	var out admitted
	ok := recs[:0:0]
	var early []record
	for _, r := range recs {
		if err := a.check(r, now); err != nil {
			out.refused = append(out.refused, refusal{r: r, err: err})
			early = append(early, r)
			continue
		}
		ok = append(ok, r)
	}
	if len(early) > 0 {
		s.noteRefused(early)
	}
	m := s.mergeCapped(ok, now, !restored)
	out.changed, out.stale, out.ownSeen = m.changed, m.stale, m.ownSeen
	for _, r := range m.capped {
		out.refused = append(out.refused, refusal{r: r, err: fmt.Errorf(
			"%w: owner would hold more than its cap of %d entries or %d bytes",
			ErrRejected, s.limits.entries, s.limits.bytes)})
	}
	for _, r := range m.pins {
		out.refused = append(out.refused, refusal{r: r, err: fmt.Errorf(
			"%w: an entry of a removed host at version %d, above what real writes reach (a pin)", ErrRejected, r.e.Version)})
	}
	if len(m.full) > 0 {
		top, bytes := s.topOwner()
		err := fmt.Errorf("%w: the map would exceed its cap of %d bytes (the owner holding the most is %s, "+
			"with %d bytes)", ErrRejected, s.maxBytes, printable(top), bytes)
		for _, r := range m.full {
			out.refused = append(out.refused, refusal{r: r, err: err})
		}
	}
	return out
}

// admitAndMerge passes records this peer did not write through the gate
// and returns those that changed the map; every refused record is counted
// and its owner's first refusal logged.
func (m *Mesh) admitAndMerge(recs []record, now time.Time, restored bool) []record {
	res := m.admit.admitAndMerge(m.store, recs, now, restored)
	m.report(res)
	return res.changed
}

// report counts and logs what the gate refused or found stale, and moves
// this peer's write counter above a write of its own it did not know of.
func (m *Mesh) report(res admitted) {
	for _, f := range res.refused {
		if errors.Is(f.err, errUnknownKind) {
			m.notUnderstood(f.r)
			continue
		}
		m.reject(f.r, f.err)
	}
	m.stats.stale.Add(uint64(res.stale))
	if res.ownSeen > 0 {
		m.ownWriteSeen(res.ownSeen)
	}
}

// reject counts a refused record and logs the first refusal of its owner.
func (m *Mesh) reject(r record, reason error) {
	m.stats.rejected.Add(1)
	owner, first := m.admit.rejects.add(r.e.Owner, r.e.Kind, reason.Error())
	if first {
		m.log.Warn("rejecting entries from a peer that break weavego's rules; further rejections "+
			"of this owner are only counted (weavego status)",
			"owner", owner, "kind", printable(r.e.Kind), "key", printable(r.e.Key), "reason", reason)
	}
}

// notUnderstood counts a record of a kind this peer does not know and logs
// the first one of each kind (a bounded number of kinds: see unknownKinds).
func (m *Mesh) notUnderstood(r record) {
	m.stats.notUnderstood.Add(1)
	if m.admit.unknown.first(r.e.Kind) {
		m.log.Info("ignoring entries of a kind this version of weavego does not know; a peer runs a newer "+
			"version (upgrade this host to use them)", "kind", printable(r.e.Kind), "owner", printable(r.e.Owner))
	}
}

// checkOwn warns when this peer writes a record that the others will
// reject: a bug or a setting (such as the advertised address) that breaks
// the rules, which would otherwise show only in the others' status.
func (m *Mesh) checkOwn(r record) {
	if err := m.admit.check(r, time.Now()); err != nil {
		m.log.Warn("this host wrote an entry the other hosts will reject", append(entryAttrs(r.e), "reason", err)...)
	}
}

// Rejected returns the records refused so far, per owner and kind, sorted
// by owner then kind.
func (m *Mesh) Rejected() []Rejection { return m.admit.rejects.list() }
