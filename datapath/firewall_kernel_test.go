package datapath

import (
	"os/exec"
	"strings"
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

func wantKeys(bridges ...string) []string {
	var keys []string
	for _, r := range desiredRules(bridges) {
		keys = append(keys, r.key())
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

func TestFirewallOwnTable(t *testing.T) {
	tn := newTestNS(t)
	c := tn.nft(t)
	for _, id := range []string{"fa", "fb"} {
		if _, err := tn.m.EnsureNetwork(testNetwork(id, 0, "")); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		if err := tn.m.EnsureFirewall(); err != nil {
			t.Fatal(err)
		}
	}
	got := ruleKeys(t, c, FirewallTable, ownForwardName)
	if want := wantKeys("wgb-fa", "wgb-fb"); !equalStrings(got, want) {
		t.Errorf("rules = %v, want %v", got, want)
	}
	if err := tn.m.DeleteNetwork("fa"); err != nil {
		t.Fatal(err)
	}
	if got, want := ruleKeys(t, c, FirewallTable, ownForwardName), wantKeys("wgb-fb"); !equalStrings(got, want) {
		t.Errorf("after delete: rules = %v, want %v", got, want)
	}
	if err := tn.m.RemoveFirewall(); err != nil {
		t.Fatal(err)
	}
	if hasTable(t, c, FirewallTable) {
		t.Errorf("table %s left after RemoveFirewall", FirewallTable)
	}
}

func TestFirewallDockerTable(t *testing.T) {
	tn := newTestNS(t)
	c := tn.nft(t)
	if _, err := tn.m.EnsureNetwork(testNetwork("fa", 0, "")); err != nil {
		t.Fatal(err)
	}
	if !hasTable(t, c, FirewallTable) {
		t.Fatalf("no own table before Docker's appeared")
	}
	fwd := addDockerTable(t, c)
	jump := jumpRule(FirewallChain).key()
	for i := 0; i < 3; i++ {
		if err := tn.m.EnsureFirewall(); err != nil {
			t.Fatal(err)
		}
	}
	if hasTable(t, c, FirewallTable) {
		t.Errorf("own table kept although Docker's is used")
	}
	if got, want := ruleKeys(t, c, dockerTable, FirewallChain), wantKeys("wgb-fa"); !equalStrings(got, want) {
		t.Errorf("%s = %v, want %v", FirewallChain, got, want)
	}
	checkJump := func(when string) {
		got := ruleKeys(t, c, dockerTable, dockerForward)
		n := 0
		for _, k := range got {
			if k == jump {
				n++
			}
		}
		if len(got) == 0 || got[0] != jump || n != 1 {
			t.Errorf("%s: FORWARD = %v, want exactly one jump, at the head", when, got)
		}
	}
	checkJump("after ensures")
	// Docker restarts: FORWARD is flushed and refilled.
	c.FlushChain(fwd)
	dockerRule(c, fwd)
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := tn.m.EnsureFirewall(); err != nil {
		t.Fatal(err)
	}
	checkJump("after Docker flush")
	checkIptablesParses(t, tn)
	if err := tn.m.RemoveFirewall(); err != nil {
		t.Fatal(err)
	}
	if got := ruleKeys(t, c, dockerTable, dockerForward); len(got) != 1 || got[0] == jump {
		t.Errorf("after RemoveFirewall: FORWARD = %v, want Docker's rule only", got)
	}
}

// checkIptablesParses runs iptables-nft over the shared table: Docker must
// still be able to read it with our rules in it.
func checkIptablesParses(t *testing.T, tn *testNS) {
	t.Helper()
	ipt, err := exec.LookPath("iptables-nft")
	if err != nil {
		t.Logf("iptables-nft not installed; skipping compatibility check")
		return
	}
	out, err := exec.Command("ip", "netns", "exec", tn.name, ipt, "-t", "filter", "-S").CombinedOutput()
	if err != nil {
		t.Fatalf("iptables-nft -S: %v\n%s", err, out)
	}
	for _, want := range []string{
		"-A FORWARD -j " + FirewallChain,
		"-A " + FirewallChain + " -i wgb-fa -o wgb-fa -j ACCEPT",
		"-A " + FirewallChain + " -i wgb-+ -j DROP",
		"-A " + FirewallChain + " -o wgb-+ -j DROP",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("iptables-nft -S lacks %q:\n%s", want, out)
		}
	}
	t.Logf("iptables-nft -S:\n%s", out)
	if strings.Contains(string(out), "incompatible") {
		t.Errorf("iptables-nft reports an incompatible table:\n%s", out)
	}
}
