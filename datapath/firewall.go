package datapath

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
)

// nftables objects this package owns or hooks into.
const (
	// FirewallChain is our regular chain in Docker's "ip filter" table,
	// jumped to from the head of its FORWARD chain.
	FirewallChain = "WEAVEGO-FORWARD"
	// FirewallTable is our own "ip" table, used when Docker's is absent.
	FirewallTable = "weavego"

	dockerTable    = "filter"  // iptables-nft's table, when Docker uses it
	dockerForward  = "FORWARD" // its forward base chain
	ownForwardName = "forward" // base chain in FirewallTable
)

// fwTarget is where our rules live for this pass.
type fwTarget struct {
	chain  *nftables.Chain
	exists bool
	// forward is Docker's FORWARD chain that must jump to chain, or nil.
	forward *nftables.Chain
	// dropOwn is set when our own table exists but Docker's is in use.
	dropOwn bool
}

// EnsureFirewall makes the forward rules match the weavego bridges present
// in the kernel and puts the input rules in place (see the package comment).
// It only reads when nothing changed, so the plugin may call it periodically
// to undo a flush by Docker or by hand.
func (m *Manager) EnsureFirewall() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ensureFirewall()
}

func (m *Manager) ensureFirewall() error {
	return errors.Join(m.ensureForward(), m.ensureInput())
}

func (m *Manager) ensureForward() error {
	bridges, err := m.bridgeNames()
	if err != nil {
		return err
	}
	t, err := m.fwTarget()
	if err != nil {
		return err
	}
	changed, err := m.queueRules(t, desiredRules(bridges))
	if err != nil {
		return err
	}
	if t.forward != nil {
		moved, err := m.queueJump(t.forward)
		if err != nil {
			return err
		}
		changed = changed || moved
	}
	if t.dropOwn {
		m.nft.DelTable(&nftables.Table{Name: FirewallTable, Family: nftables.TableFamilyIPv4})
		changed = true
	}
	if !changed {
		return nil
	}
	if err := m.nft.Flush(); err != nil {
		return fmt.Errorf("apply nftables rules in chain %s: %w", t.chain.Name, err)
	}
	m.log.Debug("firewall updated", "table", t.chain.Table.Name, "chain", t.chain.Name, "bridges", len(bridges))
	return nil
}

// fwTarget picks Docker's table when it has a FORWARD chain, else ours.
func (m *Manager) fwTarget() (fwTarget, error) {
	chains, err := m.nft.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return fwTarget{}, fmt.Errorf("list nftables chains: %w", err)
	}
	found := map[string]*nftables.Chain{}
	for _, c := range chains {
		found[c.Table.Name+"/"+c.Name] = c
	}
	if fwd := found[dockerTable+"/"+dockerForward]; fwd != nil {
		c, ok := found[dockerTable+"/"+FirewallChain]
		if !ok {
			c = &nftables.Chain{Name: FirewallChain, Table: fwd.Table}
		}
		_, own := found[FirewallTable+"/"+ownForwardName]
		return fwTarget{chain: c, exists: ok, forward: fwd, dropOwn: own}, nil
	}
	c, ok := found[FirewallTable+"/"+ownForwardName]
	if !ok {
		accept := nftables.ChainPolicyAccept
		c = &nftables.Chain{
			Name:     ownForwardName,
			Table:    &nftables.Table{Name: FirewallTable, Family: nftables.TableFamilyIPv4},
			Type:     nftables.ChainTypeFilter,
			Hooknum:  nftables.ChainHookForward,
			Priority: nftables.ChainPriorityFilter,
			Policy:   &accept,
		}
	}
	return fwTarget{chain: c, exists: ok}, nil
}

// queueRules queues the changes that make t.chain hold exactly want.
func (m *Manager) queueRules(t fwTarget, want []fwRule) (bool, error) {
	if t.exists {
		rules, err := m.nft.GetRules(t.chain.Table, t.chain)
		if err != nil {
			return false, fmt.Errorf("list rules of chain %s: %w", t.chain.Name, err)
		}
		have := make([][]expr.Any, 0, len(rules))
		for _, r := range rules {
			have = append(have, r.Exprs)
		}
		if sameRules(have, want) {
			return false, nil
		}
		m.nft.FlushChain(t.chain)
	} else {
		m.nft.AddTable(t.chain.Table)
		m.nft.AddChain(t.chain)
	}
	for _, r := range want {
		m.nft.AddRule(&nftables.Rule{Table: t.chain.Table, Chain: t.chain, Exprs: r.exprs()})
	}
	return true, nil
}

// queueJump makes the first rule of fwd, and only it, jump to our chain.
func (m *Manager) queueJump(fwd *nftables.Chain) (bool, error) {
	rules, err := m.nft.GetRules(fwd.Table, fwd)
	if err != nil {
		return false, fmt.Errorf("list rules of chain %s: %w", fwd.Name, err)
	}
	want := jumpRule(FirewallChain).key()
	var jumps []*nftables.Rule
	for _, r := range rules {
		if d, ok := decodeRule(r.Exprs); ok && d.chain == FirewallChain {
			jumps = append(jumps, r)
		}
	}
	if len(jumps) == 1 && rules[0] == jumps[0] {
		if d, _ := decodeRule(jumps[0].Exprs); d.key() == want {
			return false, nil
		}
	}
	for _, r := range jumps {
		if err := m.nft.DelRule(r); err != nil {
			return false, fmt.Errorf("delete jump to %s: %w", FirewallChain, err)
		}
	}
	m.nft.InsertRule(&nftables.Rule{Table: fwd.Table, Chain: fwd, Exprs: jumpRule(FirewallChain).exprs()})
	return true, nil
}

// bridgeNames lists the weavego bridges present in the kernel.
func (m *Manager) bridgeNames() ([]string, error) {
	links, err := m.nl.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	var names []string
	for _, l := range links {
		if _, ok := l.(*netlink.Bridge); ok && strings.HasPrefix(l.Attrs().Name, BridgePrefix) {
			names = append(names, l.Attrs().Name)
		}
	}
	return names, nil
}
