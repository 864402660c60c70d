package datapath

import (
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
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

// serveUDP hands every datagram that reaches addr inside tn to handle.
func serveUDP(t *testing.T, tn *testNS, addr string, handle func(pc net.PacketConn, b []byte, from net.Addr)) {
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
			handle(pc, buf[:n], from)
		}
	}()
}

// echoUDP answers every datagram on addr inside tn with itself.
func echoUDP(t *testing.T, tn *testNS, addr string) {
	t.Helper()
	serveUDP(t, tn, addr, func(pc net.PacketConn, b []byte, from net.Addr) { _, _ = pc.WriteTo(b, from) })
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
	if !st.upToDate(tableChains(tn.m.input)) {
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

// recvUDP records the payload of every datagram that reaches addr in tn.
func recvUDP(t *testing.T, tn *testNS, addr string) func() []string {
	t.Helper()
	var mu sync.Mutex
	var got []string
	serveUDP(t, tn, addr, func(_ net.PacketConn, b []byte, _ net.Addr) {
		mu.Lock()
		got = append(got, string(b))
		mu.Unlock()
	})
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
}

// sendUDP sends payload n times from tn to addr.
func sendUDP(t *testing.T, from *testNS, addr, payload string, n int) {
	t.Helper()
	if err := inNS(from.ns, func() error {
		c, err := net.Dial("udp4", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		for range n {
			if _, err := c.Write([]byte(payload)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatalf("send to %s: %v", addr, err)
	}
}

// TestVXLANOnlyToTheVTEP: the kernel's VXLAN socket is bound to the wildcard
// address, so it takes datagrams sent to any address of the host. A member's
// address (or a container's masqueraded to it) sending to a second address
// of the host passes the allowlist; the input rules accept VXLAN only at
// the host's underlay address and count the rest. A plain socket on the
// wildcard address stands in for the kernel's.
func TestVXLANOnlyToTheVTEP(t *testing.T) {
	host := newTestNSWith(t, Config{VTEP: netip.MustParseAddr("192.0.2.1")})
	member := newTestNS(t)
	linkHosts(t, host, member, "192.0.2.1/24", "192.0.2.2/24")
	second, _ := netlink.ParseAddr("192.0.2.100/24")
	if err := host.h.AddrAdd(host.link(t, "ul0"), second); err != nil {
		t.Fatal(err)
	}
	if err := host.m.EnsureFirewall(); err != nil {
		t.Fatal(err)
	}
	if err := host.m.SetVXLANPeers([]netip.Addr{netip.MustParseAddr("192.0.2.2")}); err != nil {
		t.Fatal(err)
	}
	got := recvUDP(t, host, "0.0.0.0:4789")
	before := counters(t, host.m)[CounterVXLANNonMember]
	sendUDP(t, member, "192.0.2.100:4789", "to the second address", 5)
	sendUDP(t, member, "192.0.2.1:4789", "to the VTEP", 5)
	// The datagrams to the VTEP come after the others on the same path: once
	// they are in, any of the others that passed are in too.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) && !slices.Contains(got(), "to the VTEP") {
		time.Sleep(20 * time.Millisecond)
	}
	if !slices.Contains(got(), "to the VTEP") {
		t.Fatalf("VXLAN from a member to the host's underlay address did not arrive: got %q", got())
	}
	if n := len(slices.DeleteFunc(got(), func(s string) bool { return s != "to the second address" })); n > 0 {
		t.Errorf("%d of 5 VXLAN datagrams from a member to a second address of the host arrived", n)
	}
	if d := counters(t, host.m)[CounterVXLANNonMember] - before; d != 5 {
		t.Errorf("counter %s grew by %d, want the 5 datagrams to the second address", CounterVXLANNonMember, d)
	}
	if out := nftList(t, host); out != "" && !strings.Contains(out, `udp dport 4789 ip daddr != 192.0.2.1 counter name "vxlan-non-member" drop`) {
		t.Errorf("nft listing lacks the rule about the destination:\n%s", out)
	}
}
