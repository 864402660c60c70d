package dnsd

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/miekg/dns"
	"github.com/weavego/weavego/internal/ipconv"
)

// Record is one name→address binding published on a weavego network.
type Record struct {
	// Name is a container name or alias, as given (no trailing dot needed).
	Name string
	// IP is the container's address on the network (IPv4 or IPv6).
	IP netip.Addr
	// Network is the name of the weavego network, for messages.
	Network string
	// VNI identifies the network cluster-wide: a client sees a record only
	// when it has an address on a network with this VNI.
	VNI uint32
	// Container is the ID of the container that has IP; "" when unknown.
	// A container's addresses all see the records of all its networks.
	Container string
}

// Member ties an address on a network to a client: every network of an
// owner is visible from each of its addresses. Records with a Container are
// members already; Member adds identities known otherwise (a local
// container's sandbox, known before its names are published).
type Member struct {
	Owner string
	VNI   uint32
	IP    netip.Addr
}

// Table holds the records dnsd answers from. Replace swaps in a new immutable
// index atomically; lookups never block and always see one whole generation.
// Table is safe for concurrent use; it needs no mutex because the index is
// never modified after it is published.
type Table struct {
	idx atomic.Pointer[index]
}

// index is one immutable generation of the table.
type index struct {
	fwd    map[string]scoped      // lower-case record name without trailing dot
	rev    map[string]scoped      // reverse owner name, "4.3.2.1.in-addr.arpa."
	owners map[memberKey][]string // address on a network -> its owners
	nets   map[string][]uint32    // owner -> VNIs of its networks, sorted
}

// scoped is what exists at one owner name, per network (VNI).
type scoped map[uint32]*entry

type memberKey struct {
	vni uint32
	ip  netip.Addr
}

// entry is what exists at one owner name on one network.
type entry struct {
	v4, v6 []net.IP // A and AAAA addresses, deduplicated, in miekg/dns's form
	ptrs   []string // PTR targets relative to the domain, as given ("Web")
}

// NewTable returns an empty table.
func NewTable() *Table {
	t := &Table{}
	t.idx.Store(newIndex(0))
	return t
}

func newIndex(n int) *index {
	return &index{fwd: make(map[string]scoped, n), rev: make(map[string]scoped, n),
		owners: map[memberKey][]string{}, nets: map[string][]uint32{}}
}

// Replace makes records and members the complete set. Invalid records
// (empty or malformed names, missing addresses) are skipped and reported in
// the returned error; the valid ones are installed regardless.
func (t *Table) Replace(records []Record, members []Member) error {
	idx := newIndex(len(records))
	var errs []error
	for _, r := range records {
		if err := idx.add(r); err != nil {
			errs = append(errs, err)
		}
	}
	for _, m := range members {
		if m.Owner != "" && m.IP.IsValid() {
			idx.addMember(m.Owner, m.VNI, m.IP.Unmap())
		}
	}
	idx.finish()
	t.idx.Store(idx)
	return errors.Join(errs...)
}

// Len returns the number of distinct owner names (forward and reverse).
func (t *Table) Len() int {
	idx := t.idx.Load()
	return len(idx.fwd) + len(idx.rev)
}

// Lookup returns the addresses recorded under name on any network
// (case-insensitive, trailing dot optional), IPv4 first, each family
// sorted. It is meant for diagnostics: answers are scoped, Lookup is not.
func (t *Table) Lookup(name string) []netip.Addr {
	s := t.idx.Load().fwd[strings.TrimSuffix(strings.ToLower(name), ".")]
	e := s.merge(nil)
	if e == nil {
		return nil
	}
	out := make([]netip.Addr, 0, len(e.v4)+len(e.v6))
	for _, ip := range e.v4 {
		out = append(out, ipconv.Addr(ip))
	}
	for _, ip := range e.v6 {
		out = append(out, ipconv.Addr(ip))
	}
	return out
}

func (t *Table) load() *index { return t.idx.Load() }

// add puts one record into a generation under construction.
func (idx *index) add(r Record) error {
	name := strings.TrimSuffix(r.Name, ".")
	if name == "" {
		return fmt.Errorf("dns record on network %q: empty name", r.Network)
	}
	if _, ok := dns.IsDomainName(dns.Fqdn(name)); !ok || strings.ContainsAny(name, " \\") {
		return fmt.Errorf("dns record %q on network %q: not a valid DNS name", r.Name, r.Network)
	}
	addr := r.IP.Unmap()
	if !addr.IsValid() {
		return fmt.Errorf("dns record %q on network %q: no valid IP address", r.Name, r.Network)
	}
	ip := ipconv.IP(addr) // 4 bytes for IPv4, as miekg/dns's A record wants
	rev, err := dns.ReverseAddr(addr.String())
	if err != nil {
		return fmt.Errorf("dns record %q on network %q: reverse of %s: %w", r.Name, r.Network, ip, err)
	}
	fwd := get(idx.fwd, strings.ToLower(name), r.VNI)
	if addr.Is4() {
		fwd.v4 = append(fwd.v4, ip)
	} else {
		fwd.v6 = append(fwd.v6, ip)
	}
	back := get(idx.rev, rev, r.VNI)
	back.ptrs = append(back.ptrs, name)
	if r.Container != "" {
		idx.addMember(r.Container, r.VNI, addr)
	}
	return nil
}

func (idx *index) addMember(owner string, vni uint32, ip netip.Addr) {
	k := memberKey{vni, ip}
	idx.owners[k] = append(idx.owners[k], owner)
	idx.nets[owner] = append(idx.nets[owner], vni)
}

func get(m map[string]scoped, key string, vni uint32) *entry {
	s := m[key]
	if s == nil {
		s = scoped{}
		m[key] = s
	}
	e := s[vni]
	if e == nil {
		e = &entry{}
		s[vni] = e
	}
	return e
}

// finish deduplicates everything once all records are in.
func (idx *index) finish() {
	for _, m := range []map[string]scoped{idx.fwd, idx.rev} {
		for _, s := range m {
			for _, e := range s {
				e.dedup()
			}
		}
	}
	for k, owners := range idx.owners {
		slices.Sort(owners)
		idx.owners[k] = slices.Compact(owners)
	}
	for o, vnis := range idx.nets {
		slices.Sort(vnis)
		idx.nets[o] = slices.Compact(vnis)
	}
}

// scope returns the VNIs whose records the client at ip on network vni may
// see: every network of every owner of that address. It is nil for an
// address that is no known member.
func (idx *index) scope(vni uint32, ip netip.Addr) []uint32 {
	owners := idx.owners[memberKey{vni, ip}]
	if len(owners) == 1 {
		return idx.nets[owners[0]]
	}
	var out []uint32
	for _, o := range owners {
		out = append(out, idx.nets[o]...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// merge returns what s holds on the networks in vnis (all networks when
// vnis is nil), or nil when it holds nothing there. A single match is
// returned as is; several are merged into a new entry.
func (s scoped) merge(vnis []uint32) *entry {
	var found []*entry
	if vnis == nil {
		for _, e := range s {
			found = append(found, e)
		}
	}
	for _, v := range vnis {
		if e := s[v]; e != nil {
			found = append(found, e)
		}
	}
	switch len(found) {
	case 0:
		return nil
	case 1:
		return found[0]
	}
	m := &entry{}
	for _, e := range found {
		m.v4 = append(m.v4, e.v4...)
		m.v6 = append(m.v6, e.v6...)
		m.ptrs = append(m.ptrs, e.ptrs...)
	}
	m.dedup()
	return m
}

// dedup sorts and deduplicates an entry; sorting is cheaper than a set per
// entry, and answers are shuffled anyway.
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
