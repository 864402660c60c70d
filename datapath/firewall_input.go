package datapath

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/userdata"
)

// inputState is what the kernel holds of our input table.
type inputState struct {
	chains   map[string]*nftables.Chain // by name; absent when missing
	comments map[string][]string        // of each chain's rules, in order
	sets     map[string]*nftables.Set
	counters map[string]bool
}

// upToDate reports whether nothing needs to be written.
func (s inputState) upToDate(want []fwChain) bool {
	if !s.counters[CounterFromContainer] || !s.counters[CounterVXLANNonMember] {
		return false
	}
	for _, set := range peerSets(nil) {
		if s.sets[set.Name] == nil {
			return false
		}
	}
	for _, c := range want {
		if s.chains[c.name] == nil || !slices.EqualFunc(s.comments[c.name], c.rules,
			func(have string, r inRule) bool { return have == r.comment }) {
			return false
		}
	}
	return true
}

// readInput reads our input table; a missing table is an empty state.
func (m *Manager) readInput() (inputState, error) {
	st := inputState{chains: map[string]*nftables.Chain{}, comments: map[string][]string{},
		sets: map[string]*nftables.Set{}, counters: map[string]bool{}}
	chains, err := m.nft.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return st, fmt.Errorf("list nftables inet chains: %w", err)
	}
	var tb *nftables.Table
	for _, c := range chains {
		if c.Table.Name != InputTable {
			continue
		}
		tb = c.Table
		st.chains[c.Name] = c
		rules, err := m.nft.GetRules(c.Table, c)
		if err != nil {
			return st, fmt.Errorf("list rules of chain %s %s: %w", InputTable, c.Name, err)
		}
		for _, r := range rules {
			comment, _ := userdata.GetString(r.UserData, userdata.TypeComment)
			st.comments[c.Name] = append(st.comments[c.Name], comment)
		}
	}
	if tb == nil {
		return st, nil
	}
	sets, err := m.nft.GetSets(tb)
	if err != nil {
		return st, fmt.Errorf("list sets of table %s: %w", InputTable, err)
	}
	for _, s := range sets {
		st.sets[s.Name] = s
	}
	objs, err := m.nft.GetObjects(tb)
	if err != nil {
		return st, fmt.Errorf("list counters of table %s: %w", InputTable, err)
	}
	for _, o := range objs {
		if c, ok := o.(*nftables.CounterObj); ok {
			st.counters[c.Name] = true
		}
	}
	return st, nil
}

// ensureInput makes our input table hold the input chain, the allowlist
// sets (filled from vxlanPeers when created) and the counters. Counters and
// sets that exist are kept, so a rebuilt chain loses neither counts nor
// members. mu is held.
func (m *Manager) ensureInput() error {
	st, err := m.readInput()
	if err != nil {
		return err
	}
	want := tableChains(m.input)
	if st.upToDate(want) {
		return nil
	}
	tb := m.nft.AddTable(inputTableRef())
	v4, v6 := splitPeers(m.vxlanPeers)
	for i, s := range peerSets(tb) {
		if st.sets[s.Name] != nil {
			continue
		}
		if err := m.nft.AddSet(s, elements([][]netip.Addr{v4, v6}[i])); err != nil {
			return fmt.Errorf("add set %s: %w", s.Name, err)
		}
	}
	for _, name := range []string{CounterFromContainer, CounterVXLANNonMember} {
		if !st.counters[name] {
			m.nft.AddObj(&nftables.CounterObj{Table: tb, Name: name})
		}
	}
	for _, c := range want {
		ch := st.chains[c.name]
		if ch == nil {
			accept := nftables.ChainPolicyAccept
			ch = m.nft.AddChain(&nftables.Chain{Name: c.name, Table: tb, Type: nftables.ChainTypeFilter,
				Hooknum: c.hook, Priority: nftables.ChainPriorityFilter, Policy: &accept})
		} else {
			m.nft.FlushChain(ch)
		}
		for _, r := range c.rules {
			m.nft.AddRule(&nftables.Rule{Table: tb, Chain: ch, Exprs: r.exprs,
				UserData: userdata.AppendString(nil, userdata.TypeComment, r.comment)})
		}
	}
	if err := m.nft.Flush(); err != nil {
		return fmt.Errorf("apply nftables rules in table inet %s: %w", InputTable, err)
	}
	m.log.Debug("host firewall updated", "table", InputTable, "chains", len(want))
	return nil
}

// SetVXLANPeers makes the VXLAN allowlist hold exactly addrs: the underlay
// addresses of the live members (this host's own is harmless). VXLAN
// packets from any other source are counted and dropped. It writes only
// what differs, so it is cheap to call on every membership change.
func (m *Manager) SetVXLANPeers(addrs []netip.Addr) error {
	want := normalizePeers(addrs)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.vxlanPeers = want
	st, err := m.readInput()
	if err != nil {
		return err
	}
	if !st.upToDate(tableChains(m.input)) {
		if err := m.ensureInput(); err != nil {
			return err
		}
		if st, err = m.readInput(); err != nil {
			return err
		}
	}
	v4, v6 := splitPeers(want)
	changed := false
	for i, s := range peerSets(nil) {
		n, err := m.queueSetElements(s.Name, st.sets[s.Name], [][]netip.Addr{v4, v6}[i])
		if err != nil {
			return err
		}
		changed = changed || n
	}
	if !changed {
		return nil
	}
	if err := m.nft.Flush(); err != nil {
		return fmt.Errorf("update the VXLAN allowlist in table inet %s: %w", InputTable, err)
	}
	m.log.Info("VXLAN allowlist updated", "peers", want)
	return nil
}

// queueSetElements queues the changes that make set (named name; nil when
// missing) hold exactly want.
func (m *Manager) queueSetElements(name string, set *nftables.Set, want []netip.Addr) (bool, error) {
	if set == nil {
		return false, fmt.Errorf("set %s of table inet %s is missing", name, InputTable)
	}
	elems, err := m.nft.GetSetElements(set)
	if err != nil {
		return false, fmt.Errorf("list elements of set %s: %w", set.Name, err)
	}
	var have []netip.Addr
	for _, e := range elems {
		if a, ok := netip.AddrFromSlice(e.Key); ok {
			have = append(have, a)
		}
	}
	add, del := diffPeers(have, want)
	if len(add) == 0 && len(del) == 0 {
		return false, nil
	}
	if len(del) > 0 {
		if err := m.nft.SetDeleteElements(set, elements(del)); err != nil {
			return false, fmt.Errorf("delete elements of set %s: %w", set.Name, err)
		}
	}
	if len(add) > 0 {
		if err := m.nft.SetAddElements(set, elements(add)); err != nil {
			return false, fmt.Errorf("add elements to set %s: %w", set.Name, err)
		}
	}
	return true, nil
}

// FirewallCounters returns the packets dropped so far per named counter
// (CounterFromContainer, CounterVXLANNonMember).
func (m *Manager) FirewallCounters() (map[string]uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	objs, err := m.nft.GetObjects(inputTableRef())
	if err != nil {
		return nil, fmt.Errorf("read counters of table inet %s: %w", InputTable, err)
	}
	out := map[string]uint64{}
	for _, o := range objs {
		if c, ok := o.(*nftables.CounterObj); ok {
			out[c.Name] = c.Packets
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no weavego firewall counters: the input rules are not installed")
	}
	return out, nil
}

// normalizePeers returns the valid addresses of addrs, unmapped, sorted and
// without duplicates.
func normalizePeers(addrs []netip.Addr) []netip.Addr {
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if a.IsValid() {
			out = append(out, a.Unmap().WithZone(""))
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// splitPeers splits normalised addresses into IPv4 and IPv6 ones.
func splitPeers(addrs []netip.Addr) (v4, v6 []netip.Addr) {
	for _, a := range addrs {
		if a.Is4() {
			v4 = append(v4, a)
		} else {
			v6 = append(v6, a)
		}
	}
	return v4, v6
}

// diffPeers returns what to add to and delete from have to get want.
func diffPeers(have, want []netip.Addr) (add, del []netip.Addr) {
	in := func(list []netip.Addr, a netip.Addr) bool { return slices.Contains(list, a) }
	for _, a := range want {
		if !in(have, a) {
			add = append(add, a)
		}
	}
	for _, a := range have {
		if !in(want, a) {
			del = append(del, a)
		}
	}
	return add, del
}

func elements(addrs []netip.Addr) []nftables.SetElement {
	out := make([]nftables.SetElement, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, nftables.SetElement{Key: a.AsSlice()})
	}
	return out
}

// port returns p as a port number, or def when p is zero or out of range.
func port(p, def int) uint16 {
	if p <= 0 || p > 65535 {
		return uint16(def)
	}
	return uint16(p)
}
