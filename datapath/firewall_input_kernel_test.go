package datapath

import (
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
)

// listenTCP accepts and closes connections on addr inside tn.
func listenTCP(t *testing.T, tn *testNS, addr string) {
	t.Helper()
	var ln net.Listener
	if err := inNS(tn.ns, func() (err error) { ln, err = net.Listen("tcp4", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

// echoUDP answers every datagram on addr inside tn with itself.
func echoUDP(t *testing.T, tn *testNS, addr string) {
	t.Helper()
	var pc net.PacketConn
	if err := inNS(tn.ns, func() (err error) { pc, err = net.ListenPacket("udp4", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(buf[:n], from)
		}
	}()
}

func dialTCP(from *testNS, addr string) error {
	var c net.Conn
	err := inNS(from.ns, func() (err error) { c, err = net.DialTimeout("tcp4", addr, time.Second); return err })
	if err == nil {
		c.Close()
	}
	return err
}

func askUDP(from *testNS, addr string) error {
	var c net.Conn
	if err := inNS(from.ns, func() (err error) { c, err = net.Dial("udp4", addr); return err }); err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("q")); err != nil {
		return err
	}
	_, err := c.Read(make([]byte, 8))
	return err
}

// retry calls f until it succeeds, at most 5 times.
func retry(f func() error) (err error) {
	for i := 0; i < 5; i++ {
		if err = f(); err == nil {
			return nil
		}
	}
	return err
}

func counters(t *testing.T, m *Manager) map[string]uint64 {
	t.Helper()
	c, err := m.FirewallCounters()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// nftList returns "nft list table inet weavego-input" run inside tn, or ""
// without the nft command.
func nftList(t *testing.T, tn *testNS) string {
	t.Helper()
	if _, err := exec.LookPath("nft"); err != nil {
		t.Log("nft not installed; skipping the listing check")
		return ""
	}
	out, err := exec.Command("ip", "netns", "exec", tn.name, "nft", "list", "table", "inet", InputTable).CombinedOutput()
	if err != nil {
		t.Fatalf("nft list table: %v\n%s", err, out)
	}
	return string(out)
}

func TestInputFirewallIdempotent(t *testing.T) {
	tn := newTestNS(t)
	if _, err := tn.m.EnsureNetwork(testNetwork("ia", 0, "")); err != nil {
		t.Fatal(err)
	}
	peers := []netip.Addr{netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("2001:db8::2")}
	for i := 0; i < 3; i++ {
		if err := tn.m.EnsureFirewall(); err != nil {
			t.Fatal(err)
		}
		if err := tn.m.SetVXLANPeers(peers); err != nil {
			t.Fatal(err)
		}
	}
	st, err := tn.m.readInput()
	if err != nil {
		t.Fatal(err)
	}
	if !st.upToDate(tableChains(tn.m.ports)) {
		t.Errorf("input table not as wanted: comments %q", st.comments)
	}
	// A pass with nothing to do writes nothing: the rules keep their handles.
	c := tn.nft(t)
	handles := func() []uint64 {
		rules, err := c.GetRules(inputTableRef(), st.chains[inputChainName])
		if err != nil {
			t.Fatal(err)
		}
		var hs []uint64
		for _, r := range rules {
			hs = append(hs, r.Handle)
		}
		return hs
	}
	before := handles()
	if err := tn.m.EnsureFirewall(); err != nil {
		t.Fatal(err)
	}
	if after := handles(); !slices.Equal(before, after) {
		t.Errorf("rules rewritten by a pass with nothing to do: handles %v, then %v", before, after)
	}
	// Someone deletes the table: the next pass restores it with the members.
	c.DelTable(inputTableRef())
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := tn.m.EnsureFirewall(); err != nil {
		t.Fatal(err)
	}
	out := nftList(t, tn)
	for _, want := range []string{
		`iifname "docker_gwbridge" tcp dport 6783 counter name "from-container" drop`,
		`udp dport 4789 ip saddr != @vxlan_peers counter name "vxlan-non-member" drop`,
		`udp dport 4789 meta skuid != 0 counter name "vxlan-non-member" drop`,
		`elements = { 192.0.2.2 }`,
		`elements = { 2001:db8::2 }`,
	} {
		if out != "" && !strings.Contains(out, want) {
			t.Errorf("nft listing lacks %q:\n%s", want, out)
		}
	}
	if err := tn.m.RemoveFirewall(); err != nil {
		t.Fatal(err)
	}
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(tables, func(tb *nftables.Table) bool { return tb.Name == InputTable }) {
		t.Errorf("table inet %s left after RemoveFirewall", InputTable)
	}
}

// TestContainersReachOnlyTheirNamespace: a container reaches what listens
// in its network's namespace (dnsd, on its gateway) and nothing of its
// host: the host's ports are not on its path at all, with no rule needed.
func TestContainersReachOnlyTheirNamespace(t *testing.T) {
	host := newTestNS(t)
	if _, err := host.m.EnsureNetwork(testNetwork("ib", 0, "")); err != nil {
		t.Fatal(err)
	}
	c := addContainer(t, host, "ib", "epi1", "10.20.0.5/24")
	listenTCP(t, host, "0.0.0.0:6783")
	echoUDP(t, host, "0.0.0.0:6783")
	nn := host.net(t, "ib")
	listenTCP(t, nn, "10.20.0.1:53")
	echoUDP(t, nn, "10.20.0.1:53")
	// The first tries may run before the new bridge port forwards.
	if err := retry(func() error { return dialTCP(c.testNS, "10.20.0.1:53") }); err != nil {
		t.Errorf("DNS over TCP from a container: %v", err)
	}
	if err := retry(func() error { return askUDP(c.testNS, "10.20.0.1:53") }); err != nil {
		t.Errorf("DNS over UDP from a container: %v", err)
	}
	if err := host.m.RemoveFirewall(); err != nil {
		t.Fatal(err)
	}
	if err := dialTCP(c.testNS, "10.20.0.1:6783"); err == nil {
		t.Errorf("a container reached the host's TCP 6783 on its gateway")
	}
	if err := askUDP(c.testNS, "10.20.0.1:6783"); err == nil {
		t.Errorf("a container reached the host's UDP 6783 on its gateway")
	}
}
