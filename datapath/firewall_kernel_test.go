package datapath

import (
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

func (tn *testNS) nft(t *testing.T) *nftables.Conn {
	t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(int(tn.ns)))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ruleKeys returns the decoded rules of table/chain ("?" for foreign rules).
func ruleKeys(t *testing.T, c *nftables.Conn, table, chain string) []string {
	t.Helper()
	tb := &nftables.Table{Name: table, Family: nftables.TableFamilyIPv4}
	rules, err := c.GetRules(tb, &nftables.Chain{Name: chain, Table: tb})
	if err != nil {
		t.Fatalf("rules of %s/%s: %v", table, chain, err)
	}
	var keys []string
	for _, r := range rules {
		d, ok := decodeRule(r.Exprs)
		if !ok {
			keys = append(keys, "?")
			continue
		}
		keys = append(keys, d.key())
	}
	return keys
}

func hasTable(t *testing.T, c *nftables.Conn, name string) bool {
	t.Helper()
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		if tb.Name == name {
			return true
		}
	}
	return false
}

// addDockerTable imitates what Docker with iptables-nft leaves behind: table
// ip filter, FORWARD with policy drop and one rule of its own.
func addDockerTable(t *testing.T, c *nftables.Conn) *nftables.Chain {
	t.Helper()
	drop := nftables.ChainPolicyDrop
	tb := c.AddTable(&nftables.Table{Name: dockerTable, Family: nftables.TableFamilyIPv4})
	fwd := c.AddChain(&nftables.Chain{Name: dockerForward, Table: tb, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &drop})
	dockerRule(c, fwd)
	if err := c.Flush(); err != nil {
		t.Fatalf("create docker-like table: %v", err)
	}
	return fwd
}

func dockerRule(c *nftables.Conn, fwd *nftables.Chain) {
	r := fwRule{iif: exactIf("docker0"), oif: exactIf("docker0"), verdict: expr.VerdictAccept}
	c.AddRule(&nftables.Rule{Table: fwd.Table, Chain: fwd, Exprs: r.exprs()})
}

// addOldRules writes what an earlier weavego left: its chain in Docker's
// table with a jump at the head of FORWARD, and its own forward table.
func addOldRules(t *testing.T, c *nftables.Conn, fwd *nftables.Chain) {
	t.Helper()
	ch := c.AddChain(&nftables.Chain{Name: FirewallChain, Table: fwd.Table})
	for _, r := range []fwRule{{iif: exactIf("wgb-fa"), oif: exactIf("wgb-fa"), verdict: expr.VerdictAccept},
		{iif: prefixIf(BridgePrefix), verdict: expr.VerdictDrop}} {
		c.AddRule(&nftables.Rule{Table: fwd.Table, Chain: ch, Exprs: r.exprs()})
	}
	c.InsertRule(&nftables.Rule{Table: fwd.Table, Chain: fwd, Exprs: jumpRule(FirewallChain).exprs()})
	accept := nftables.ChainPolicyAccept
	own := c.AddTable(&nftables.Table{Name: FirewallTable, Family: nftables.TableFamilyIPv4})
	c.AddChain(&nftables.Chain{Name: ownForwardName, Table: own, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	if err := c.Flush(); err != nil {
		t.Fatalf("write old forward rules: %v", err)
	}
}

// TestFirewallRemovesOldForwardRules: isolation needs no forward rules any
// more; those of an earlier weavego go, Docker's own rule stays.
func TestFirewallRemovesOldForwardRules(t *testing.T) {
	tn := newTestNS(t)
	c := tn.nft(t)
	fwd := addDockerTable(t, c)
	addOldRules(t, c, fwd)
	if _, err := tn.m.EnsureNetwork(testNetwork("fa", 0, "")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := tn.m.EnsureFirewall(); err != nil {
			t.Fatal(err)
		}
	}
	if hasTable(t, c, FirewallTable) {
		t.Errorf("old table %s kept", FirewallTable)
	}
	if got := ruleKeys(t, c, dockerTable, dockerForward); len(got) != 1 || got[0] == jumpRule(FirewallChain).key() {
		t.Errorf("FORWARD = %v, want Docker's rule only", got)
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range chains {
		if ch.Name == FirewallChain {
			t.Errorf("chain %s kept in table %s", FirewallChain, ch.Table.Name)
		}
	}
}
