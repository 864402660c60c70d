package datapath

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/weavego/weavego/internal/ipconv"
	"golang.org/x/sys/unix"
)

// The ingress filter of a direct network's macvlan, in the network's
// namespace: the analogue of the VXLAN allowlist. A frame that comes in
// through the macvlan passes only if its Ethernet source is the published
// macvlan MAC of a peer this host sends to directly, it is IPv4 and its
// destination is in the network's subnet and not the gateway (the
// namespace's own address): everything else (ARP, IPv6, strangers' frames,
// packets for the namespace itself) is dropped before the namespace sees it.
// The source address is not checked (see inetconf.go for why the reverse
// path filter is loose): a peer's kernel only forwards its containers'.

// DirectTable is the netdev table of the filter in a direct network's
// namespace.
const DirectTable = "weavego-direct"

const (
	directChain   = "ingress"
	directPeerSet = "peers"
	etherTypeIPv4 = 0x0800
)

// directFilter is the desired filter of one network.
type directFilter struct {
	dev     string
	index   int // of dev: a re-created macvlan needs a new chain
	subnet  netip.Prefix
	gateway netip.Addr
	peers   []net.HardwareAddr
}

func (f directFilter) key() string {
	macs := make([]string, len(f.peers))
	for i, p := range f.peers {
		macs[i] = p.String()
	}
	slices.Sort(macs)
	return fmt.Sprintf("%s/%d/%s/%s/%s", f.dev, f.index, f.subnet, f.gateway, strings.Join(macs, ","))
}

// ensureDirectFilter writes f in ns's table, replacing the whole table in
// one transaction when it differs from what this Manager wrote last.
func (m *Manager) ensureDirectFilter(ns *netNS, id string, f directFilter) error {
	if m.directFilters[id] == f.key() {
		return nil
	}
	c, err := nftables.New(nftables.WithNetNSFd(int(ns.ns)))
	if err != nil {
		return fmt.Errorf("nftables in the namespace of network %s: %w", id, err)
	}
	tb := &nftables.Table{Name: DirectTable, Family: nftables.TableFamilyNetdev}
	c.AddTable(tb)
	c.DelTable(tb)
	c.AddTable(tb)
	accept := nftables.ChainPolicyAccept
	ch := c.AddChain(&nftables.Chain{Name: directChain, Table: tb, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookIngress, Priority: nftables.ChainPriorityFilter, Device: f.dev, Policy: &accept})
	set := &nftables.Set{Table: tb, Name: directPeerSet, KeyType: nftables.TypeEtherAddr}
	elems := make([]nftables.SetElement, len(f.peers))
	for i, p := range f.peers {
		elems[i] = nftables.SetElement{Key: p}
	}
	if err := c.AddSet(set, elems); err != nil {
		return fmt.Errorf("peer set of network %s: %w", id, err)
	}
	for _, r := range directRules(set, f) {
		c.AddRule(&nftables.Rule{Table: tb, Chain: ch, Exprs: r})
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("write the direct filter of network %s: %w", id, err)
	}
	m.directFilters[id] = f.key()
	return nil
}

// directRules are the drop rules of the chain, in order.
func directRules(set *nftables.Set, f directFilter) [][]expr.Any {
	drop := &expr.Verdict{Kind: expr.VerdictDrop}
	ether := &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseLLHeader, Offset: 6, Len: 6}
	rules := [][]expr.Any{
		{ether, &expr.Lookup{SourceRegister: 1, SetName: set.Name, SetID: set.ID, Invert: true}, drop},
		{&expr.Meta{Key: expr.MetaKeyPROTOCOL, Register: 1},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.BigEndian.PutUint16(etherTypeIPv4)}, drop},
	}
	daddr := &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4}
	if f.subnet.IsValid() && f.subnet.Addr().Is4() {
		mask := net.CIDRMask(f.subnet.Bits(), 32)
		rules = append(rules, []expr.Any{daddr,
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: ipconv.IP(f.subnet.Masked().Addr()).To4()}, drop})
	} else {
		rules = append(rules, []expr.Any{drop})
	}
	if f.gateway.IsValid() {
		rules = append(rules, []expr.Any{daddr,
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ipconv.IP(f.gateway.Unmap()).To4()}, drop})
	}
	return rules
}

// removeDirectFilter deletes the filter table of network id, if any.
func (m *Manager) removeDirectFilter(ns *netNS, id string) error {
	delete(m.directFilters, id)
	c, err := nftables.New(nftables.WithNetNSFd(int(ns.ns)))
	if err != nil {
		return fmt.Errorf("nftables in the namespace of network %s: %w", id, err)
	}
	tb := &nftables.Table{Name: DirectTable, Family: nftables.TableFamilyNetdev}
	c.AddTable(tb)
	c.DelTable(tb)
	if err := c.Flush(); err != nil && !strings.Contains(err.Error(), unix.ENOENT.Error()) {
		return fmt.Errorf("remove the direct filter of network %s: %w", id, err)
	}
	return nil
}
