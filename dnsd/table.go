package dnsd

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/miekg/dns"
)

// Record is one name→address binding published on a weavego network.
type Record struct {
	// Name is a container name or alias, as given (no trailing dot needed).
	Name string
	// IP is the container's address on Network (IPv4 or IPv6).
	IP net.IP
	// Network is the weavego network the address belongs to.
	Network string
}

// Table holds the records dnsd answers from. Replace swaps in a new immutable
// index atomically; lookups never block and always see one whole generation.
// Table is safe for concurrent use; it needs no mutex because the index is
// never modified after it is published.
type Table struct {
	idx atomic.Pointer[index]
}

// index is one immutable generation of the table, keyed by lower-case FQDN:
// container names ("web.") and reverse names ("4.3.2.1.in-addr.arpa.").
type index struct {
	names map[string]*entry
}

// entry is what exists at one owner name.
type entry struct {
	v4, v6 []net.IP // A and AAAA addresses, deduplicated
	ptrs   []string // PTR targets relative to the domain, as given ("Web")
	seen   set      // dedup while building; nil once published
}

type set map[string]struct{}

// NewTable returns an empty table.
func NewTable() *Table {
	t := &Table{}
	t.idx.Store(&index{names: map[string]*entry{}})
	return t
}

// Replace makes records the complete set of records. Invalid records (empty
// or malformed names, missing addresses) are skipped and reported in the
// returned error; the valid ones are installed regardless.
func (t *Table) Replace(records []Record) error {
	idx := &index{names: make(map[string]*entry, 2*len(records))}
	var errs []error
	for _, r := range records {
		if err := idx.add(r); err != nil {
			errs = append(errs, err)
		}
	}
	for _, e := range idx.names {
		e.dedup()
	}
	t.idx.Store(idx)
	return errors.Join(errs...)
}

// Len returns the number of distinct owner names (forward and reverse).
func (t *Table) Len() int { return len(t.idx.Load().names) }

// Lookup returns the addresses recorded under name (case-insensitive,
// trailing dot optional), IPv4 first, each family sorted. It is meant for diagnostics.
func (t *Table) Lookup(name string) []net.IP {
	e := t.idx.Load().names[dns.CanonicalName(name)]
	if e == nil {
		return nil
	}
	return append(append([]net.IP(nil), e.v4...), e.v6...)
}

func (t *Table) load() *index { return t.idx.Load() }

// add puts one record into a generation under construction.
func (idx *index) add(r Record) error {
	name := strings.TrimSuffix(r.Name, ".")
	if name == "" {
		return fmt.Errorf("dns record on network %q: empty name", r.Network)
	}
	fqdn := dns.Fqdn(name)
	if _, ok := dns.IsDomainName(fqdn); !ok || strings.ContainsAny(name, " \\") {
		return fmt.Errorf("dns record %q on network %q: not a valid DNS name", r.Name, r.Network)
	}
	ip := r.IP.To4()
	if ip == nil {
		ip = r.IP.To16()
	}
	if ip == nil {
		return fmt.Errorf("dns record %q on network %q: no valid IP address", r.Name, r.Network)
	}
	rev, err := dns.ReverseAddr(ip.String())
	if err != nil {
		return fmt.Errorf("dns record %q on network %q: reverse of %s: %w", r.Name, r.Network, ip, err)
	}
	fwd := idx.get(strings.ToLower(fqdn))
	if len(ip) == net.IPv4len {
		fwd.v4 = append(fwd.v4, ip)
	} else {
		fwd.v6 = append(fwd.v6, ip)
	}
	back := idx.get(rev)
	back.ptrs = append(back.ptrs, name)
	return nil
}

func (idx *index) get(key string) *entry {
	e := idx.names[key]
	if e == nil {
		e = &entry{}
		idx.names[key] = e
	}
	return e
}

// dedup sorts and deduplicates an entry once all records are in; sorting
// is cheaper than a set per entry, and answers are shuffled anyway.
func (e *entry) dedup() {
	cmpIP := func(a, b net.IP) int { return bytes.Compare(a, b) }
	eqIP := func(a, b net.IP) bool { return a.Equal(b) }
	if len(e.v4) > 1 {
		slices.SortFunc(e.v4, cmpIP)
		e.v4 = slices.CompactFunc(e.v4, eqIP)
	}
	if len(e.v6) > 1 {
		slices.SortFunc(e.v6, cmpIP)
		e.v6 = slices.CompactFunc(e.v6, eqIP)
	}
	if len(e.ptrs) > 1 {
		slices.SortFunc(e.ptrs, func(a, b string) int {
			return strings.Compare(strings.ToLower(a), strings.ToLower(b))
		})
		e.ptrs = slices.CompactFunc(e.ptrs, strings.EqualFold)
	}
}
