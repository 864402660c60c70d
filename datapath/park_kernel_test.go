package datapath

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/google/nftables"
)

// TestParkAndBack: Park moves a network with a container from its namespace
// into the host namespace (as on SIGTERM), twice without harm; the
// container keeps reaching the other host and its gateway's MAC but no
// port of the host, the pin is gone, the forward rules are in place; the next EnsureNetwork moves the
// network into a namespace again, with the same MAC, and removes the rules.
func TestParkAndBack(t *testing.T) {
	hostA, hostB := newTestNS(t), newTestNS(t)
	addDockerTable(t, hostA.nft(t))
	linkHosts(t, hostA, hostB, "192.0.2.1/24", "192.0.2.2/24")
	gw, subnet := mustPrefix("10.31.0.1/24")
	n := Network{ID: "fedcba9876543210fedc", VNI: 79, Subnet: subnet, Gateway: gw, MTU: DefaultMTU,
		ServiceAddr: netip.MustParseAddr("169.254.53.53")}
	na, nb := n, n
	na.VTEP, nb.VTEP = netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	for _, p := range []struct {
		h *testNS
		n Network
	}{{hostA, na}, {hostB, nb}} {
		if _, err := p.h.m.EnsureNetwork(p.n); err != nil {
			t.Fatal(err)
		}
	}
	a1 := addContainer(t, hostA, n.ID, "epa1", "10.31.0.11/24")
	b1 := addContainer(t, hostB, n.ID, "epb1", "10.31.0.21/24")
	peers := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")}
	for _, p := range []struct {
		h     *testNS
		other container
		vtep  string
	}{{hostA, b1, "192.0.2.2"}, {hostB, a1, "192.0.2.1"}} {
		if err := p.h.m.SetRemotes(n.ID, []Remote{p.other.remote(p.vtep)}, []netip.Addr{netip.MustParseAddr(p.vtep)}); err != nil {
			t.Fatal(err)
		}
		if err := p.h.m.SetVXLANPeers(peers); err != nil {
			t.Fatal(err)
		}
	}
	serveEcho(t, a1)
	serveEcho(t, b1)
	if err := echo(b1, a1.ip, 3*time.Second); err != nil {
		t.Fatalf("before parking (test setup): %v", err)
	}
	mac := hostA.net(t, n.ID).link(t, BridgeName(n.ID)).Attrs().HardwareAddr
	for i := 0; i < 2; i++ {
		if err := hostA.m.Park(context.Background()); err != nil {
			t.Fatalf("Park #%d: %v", i, err)
		}
	}
	checkParked(t, hostA, n, mac)
	listenTCP(t, hostA, "0.0.0.0:7000")
	if err := dialTCP(a1.testNS, "10.31.0.1:7000"); err == nil {
		t.Error("parked, a container reaches a host port on its gateway")
	}
	for _, p := range []struct{ from, to container }{{b1, a1}, {a1, b1}} {
		if err := echo(p.from, p.to.ip, 3*time.Second); err != nil {
			t.Errorf("parked, %s to %s: %v", p.from.ip, p.to.ip, err)
		}
	}
	if _, err := hostA.m.EnsureNetwork(na); err != nil {
		t.Fatalf("EnsureNetwork after Park: %v", err)
	}
	hostIf, _ := VethNames("epa1")
	for _, name := range []string{BridgeName(n.ID), VXLANName(n.ID), hostIf} {
		hostA.absent(t, name)
	}
	if got := hostA.net(t, n.ID).link(t, BridgeName(n.ID)).Attrs().HardwareAddr; !bytes.Equal(got, mac) {
		t.Errorf("bridge MAC back in the namespace %s, want %s", got, mac)
	}
	if got := forwardRuleKeys6(t, hostA); got != nil {
		t.Errorf("IPv6 forward rules after unpark = %v, want none", got)
	}
	if got := forwardRuleKeys(t, hostA); got != nil {
		t.Errorf("forward rules left once every network is in its namespace: %v", got)
	}
	for _, p := range []struct{ from, to container }{{b1, a1}, {a1, b1}} {
		if err := echo(p.from, p.to.ip, 3*time.Second); err != nil {
			t.Errorf("back in the namespace, %s to %s: %v", p.from.ip, p.to.ip, err)
		}
	}
}

// checkParked: network n of host is all in the host namespace, its bridge
// with MAC mac, the gateway and the service address; its pin is gone and
// the forward rules are in place.
func checkParked(t *testing.T, host *testNS, n Network, mac net.HardwareAddr) {
	t.Helper()
	if _, err := os.Stat(NamespacePath(host.nsDir, n.ID)); !os.IsNotExist(err) {
		t.Errorf("pin of network %s after Park: %v", n.ID, err)
	}
	br := host.link(t, BridgeName(n.ID))
	if !bytes.Equal(br.Attrs().HardwareAddr, mac) || br.Attrs().Alias != n.ID {
		t.Errorf("host bridge MAC %s alias %q, want %s %q", br.Attrs().HardwareAddr, br.Attrs().Alias, mac, n.ID)
	}
	hostIf, _ := VethNames("epa1")
	for _, name := range []string{VXLANName(n.ID), hostIf} {
		if l := host.link(t, name); l.Attrs().MasterIndex != br.Attrs().Index {
			t.Errorf("%s is not a port of the host bridge", name)
		}
	}
	addrs, err := host.h.AddrList(br, 2 /* AF_INET */)
	if err != nil || len(addrs) != 2 {
		t.Errorf("host bridge addresses %v (%v), want the gateway and the service address", addrs, err)
	}
	var want []string
	for _, r := range desiredRules([]string{BridgeName(n.ID)}) {
		want = append(want, r.key())
	}
	if got := forwardRuleKeys(t, host); !slices.Equal(got, want) {
		t.Errorf("forward rules when parked = %v, want %v", got, want)
	}
	if got := forwardRuleKeys6(t, host); !slices.Equal(got, want) {
		t.Errorf("IPv6 forward rules when parked = %v, want %v", got, want)
	}
	ids, err := host.m.NetworkIDs()
	if err != nil || len(ids) != 1 || ids[0] != n.ID {
		t.Errorf("NetworkIDs when parked = %v, %v; want [%s]", ids, err, n.ID)
	}
}

// forwardRuleKeys returns the rules of our chain in Docker's table, nil when
// there is no such chain.
func forwardRuleKeys(t *testing.T, host *testNS) []string {
	t.Helper()
	c := host.nft(t)
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range chains {
		if ch.Table.Name == dockerTable && ch.Name == FirewallChain {
			return ruleKeys(t, c, dockerTable, FirewallChain)
		}
	}
	return nil
}

// forwardRuleKeys6 returns the rules of our IPv6 forward chain: in our own
// ip6 table (the test namespaces have no Docker ip6 filter table), nil
// when there is none.
func forwardRuleKeys6(t *testing.T, host *testNS) []string {
	t.Helper()
	c := host.nft(t)
	tb := &nftables.Table{Name: FirewallTable, Family: nftables.TableFamilyIPv6}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv6)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range chains {
		if ch.Table.Name != FirewallTable || ch.Name != ownForwardName {
			continue
		}
		rules, err := c.GetRules(tb, &nftables.Chain{Name: ownForwardName, Table: tb})
		if err != nil {
			t.Fatal(err)
		}
		keys := []string{}
		for _, r := range rules {
			d, _ := decodeRule(r.Exprs)
			keys = append(keys, d.key())
		}
		return keys
	}
	return nil
}
