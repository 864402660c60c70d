package datapath

import (
	"errors"
	"fmt"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// A network whose bridge is in the host namespace (parked by Park while the
// plugin is stopped, or left by an earlier weavego) has its bridged frames
// pass the host's FORWARD hook when br_netfilter is on, where Docker's
// policy drops them. While such bridges exist, ensureForward keeps the
// forward rules that weavego wrote in its host-namespace design: frames
// bridged within one weavego bridge are accepted, anything else forwarded
// into or out of one is dropped. Once every network is in its namespace
// again, ensureFirewall removes them (removeForward).

// fwTarget is where the forward rules live for this pass.
type fwTarget struct {
	chain  *nftables.Chain
	exists bool
	// forward is Docker's FORWARD chain that must jump to chain, or nil.
	forward *nftables.Chain
	// dropOwn is set when our own table exists but Docker's is in use.
	dropOwn bool
}

// desiredRules are the rules of our chain for the given bridges.
func desiredRules(bridges []string) []fwRule {
	sorted := slices.Sorted(slices.Values(bridges))
	rules := make([]fwRule, 0, len(sorted)+2)
	for _, b := range sorted {
		rules = append(rules, fwRule{iif: exactIf(b), oif: exactIf(b), verdict: expr.VerdictAccept})
	}
	return append(rules,
		fwRule{iif: prefixIf(BridgePrefix), verdict: expr.VerdictDrop},
		fwRule{oif: prefixIf(BridgePrefix), verdict: expr.VerdictDrop})
}

// fwFamilies are the families the forward rules are kept in: IPv4 ("ip
// filter", iptables) and IPv6 ("ip6 filter", ip6tables, whose FORWARD
// policy Docker sets to drop too when its ip6tables support is on). Bridged
// IPv6 frames of a dual-stack network pass the ip6 hook.
var fwFamilies = [...]nftables.TableFamily{nftables.TableFamilyIPv4, nftables.TableFamilyIPv6}

// ensureForward makes the forward rules of both families match the given
// host-namespace bridges. mu is held.
func (m *Manager) ensureForward(bridges []string) error {
	var errs []error
	for _, fam := range fwFamilies {
		errs = append(errs, m.ensureForwardOf(fam, bridges))
	}
	return errors.Join(errs...)
}

// ensureForwardOf makes the forward rules of family fam match the given
// host-namespace bridges, in Docker's "filter" table of that family when it
// has a FORWARD chain, else in our own table. mu is held.
func (m *Manager) ensureForwardOf(fam nftables.TableFamily, bridges []string) error {
	t, err := m.fwTarget(fam)
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
		m.nft.DelTable(&nftables.Table{Name: FirewallTable, Family: fam})
		changed = true
	}
	if !changed {
		return nil
	}
	if err := m.nft.Flush(); err != nil {
		return fmt.Errorf("apply nftables rules in %s chain %s: %w", familyName(fam), t.chain.Name, err)
	}
	m.log.Debug("forward rules updated", "family", familyName(fam), "table", t.chain.Table.Name, "chain", t.chain.Name,
		"bridges", len(bridges))
	return nil
}

// fwTarget picks Docker's table of family fam when it has a FORWARD chain,
// else ours.
func (m *Manager) fwTarget(fam nftables.TableFamily) (fwTarget, error) {
	chains, err := m.nft.ListChainsOfTableFamily(fam)
	if err != nil {
		return fwTarget{}, fmt.Errorf("list nftables %s chains: %w", familyName(fam), err)
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
			Table:    &nftables.Table{Name: FirewallTable, Family: fam},
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

// sameRules reports whether the kernel's rules are exactly want, in order.
func sameRules(have [][]expr.Any, want []fwRule) bool {
	if len(have) != len(want) {
		return false
	}
	for i, es := range have {
		r, ok := decodeRule(es)
		if !ok || r.key() != want[i].key() {
			return false
		}
	}
	return true
}

// familyName is how nft names a table family: "ip" or "ip6".
func familyName(fam nftables.TableFamily) string {
	if fam == nftables.TableFamilyIPv6 {
		return "ip6"
	}
	return "ip"
}
