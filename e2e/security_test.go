//go:build linux

package e2e

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// The trust boundaries of SECURITY.md, each shown on real Docker hosts: three members that share the cluster key
// and a fourth host, h4, that plays the stranger on the underlay.

const (
	// probePort is a TCP port a test listener opens on a host, to show that containers cannot reach host ports.
	probePort = 17000
	// gossipPort and vxlanPort are the plugin's defaults.
	gossipPort = 6783
	vxlanPort  = 4789
	// forgedNet is the network a forged gossip datagram defines.
	forgedNet = "forgednet"
)

type security struct {
	c              *Cluster
	h1, h2, h3, h4 *Host
	gw1, gw2       string
}

func TestSecurity(t *testing.T) {
	RequirePlugin(t)
	// h4 is the stranger: it gets the plugin, with other keys, in the steps.
	c := NewCluster(t, ClusterOptions{Hosts: 4, Mesh: 3, Env: securityEnv(),
		Underlay: func(c *Cluster) { startUpstreamDNS(t, c) }})
	s := &security{c: c, h1: c.Host(0), h2: c.Host(1), h3: c.Host(2), h4: c.Host(3)}
	s.h1.CreateNetwork(t, "net1", netArgs...)
	s.h1.CreateNetwork(t, "net2", netArgs...)
	s.h1.CreateNetwork(t, "inet", append([]string{"--internal"}, netArgs...)...)
	for _, h := range []*Host{s.h2, s.h3} {
		for _, n := range []string{"net1", "net2", "inet"} {
			Eventually(t, 2*time.Minute, func() error { _, err := h.NetworkView(n); return err })
		}
	}
	s.gw1, s.gw2 = s.gateway(t, "net1"), s.gateway(t, "net2")

	runStepsOpts(t, stepOptions{onFail: func(t *testing.T, name string) {
		t.Logf("%s failed; h1's plugin log:\n%s", name, tail(s.h1.PluginLogs(), 40))
	}}, []step{
		{"StrangerWithoutKeyIsRefused", s.strangerWithoutKey},
		{"StrangerWithAnotherKeyCannotJoin", s.strangerWithOtherKey},
		{"StrangerStreamsCostBoundedMemory", s.strangerFlood},
		{"StrangerDatagramsLogOnce", s.strangerDatagrams},
		{"ForgedGossipChangesNothing", s.forgedGossip},
		{"VXLANFromNonMemberDropped", s.vxlanFromStranger},
		{"VXLANFromLocalUserDropped", s.vxlanFromLocalUser},
		{"VXLANToSecondAddressDropped", s.vxlanToSecondAddress},
		{"ContainersCannotReachHostPorts", s.hostPorts},
		{"LocalUserCannotChangeCluster", s.localUser},
		{"DNSScopedToNetworks", s.dnsScope},
		{"OutsideQueriesNotAnswered", s.dnsOutside},
		{"UnsafeSubnetsRefused", s.unsafeSubnets},
	})
}

func (s *security) gateway(t *testing.T, network string) string {
	t.Helper()
	v, err := s.h1.NetworkView(network)
	if err != nil {
		t.Fatal(err)
	}
	return v.Gateway
}

func tail(lines []string, n int) string {
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// removePlugin disables and removes the plugin on h, whatever state it is in.
func removePlugin(h *Host) {
	_, _ = h.Docker("plugin", "disable", "-f", PluginName)
	_, _ = h.Docker("plugin", "rm", "-f", PluginName)
}

// strangerWithoutKey: a host told to join peers but given no key joins nothing and says why where the user types:
// the plugin enables, `docker network create` and `weavego status` there name KEY and `weavego token`.
func (s *security) strangerWithoutKey(t *testing.T) {
	err := s.h4.InstallPlugin(map[string]string{"PEERS": s.h1.IP.String()})
	defer removePlugin(s.h4)
	if err != nil {
		t.Fatalf("enable on h4 with PEERS and no KEY failed, so the user sees only Docker's words: %v", oneLineErr(err))
	}
	refusedWhereTyped(t, s.h4, "strangernet", "KEY", "weavego token")
	st, err := s.h1.Status()
	if err != nil {
		t.Fatal(err)
	}
	if state := st.peerState(s.h4.IP.String()); state != "" {
		t.Errorf("h1 lists h4, which has no key, as a peer (%s)", state)
	}
	logs := strings.Join(s.h4.PluginLogs(), "\n")
	if !strings.Contains(logs, "weavego token") || !strings.Contains(logs, "KEY") {
		t.Errorf("h4's log does not tell the user to run `weavego token` and set KEY:\n%s", tail(s.h4.PluginLogs(), 10))
	}
}

func oneLineErr(err error) string { return strings.ReplaceAll(err.Error(), "\n", " | ") }

// strangerWithOtherKey: a host with a key of its own reaches the members but never becomes one.
func (s *security) strangerWithOtherKey(t *testing.T) {
	if err := s.h4.InstallPlugin(map[string]string{"PEERS": s.h1.IP.String(), "KEY": NewClusterKey(t)}); err != nil {
		t.Fatal(err)
	}
	defer removePlugin(s.h4)
	// h4 retries its join with backoff; give it several rounds before concluding.
	deadline := time.Now().Add(12 * time.Second)
	for time.Now().Before(deadline) {
		for _, h := range s.c.Hosts()[:3] {
			st, err := h.Status()
			if err != nil {
				t.Fatal(err)
			}
			if state := st.peerState(s.h4.IP.String()); state != "" {
				t.Fatalf("%s lists the stranger h4 as a peer (%s)", h.Name, state)
			}
		}
		time.Sleep(time.Second)
	}
	st, err := s.h4.Status()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Cluster.Peers) != 1 {
		t.Errorf("h4 with another key sees %d peers; want only itself", len(st.Cluster.Peers))
	}
	t.Logf("for 12 s no member listed h4 (another key), and h4 saw only itself")
}

// forgedDatagram is a gossip datagram as an open (keyless) cluster accepts it: memberlist's label header, a
// user message, and weavego's entry encoding (mesh/codec.go) of one network definition written by "forger".
func forgedDatagram() []byte {
	def, _ := json.Marshal(map[string]any{"Name": forgedNet, "Subnet": "10.99.0.0/24", "Gateway": "10.99.0.1",
		"VNI": 4242, "Origin": "forger"})
	str := func(b []byte, s string) []byte { return append(binary.AppendUvarint(b, uint64(len(s))), s...) }
	msg := []byte{1, 1}                   // wire format 1, entries
	msg = binary.AppendUvarint(msg, 1)    // one entry
	msg = str(msg, "net")                 // kind
	msg = str(msg, forgedNet)             // key
	msg = str(msg, "forger")              // owner
	msg = binary.AppendUvarint(msg, 1000) // version
	msg = append(msg, 0)                  // flags: live
	msg = str(msg, string(def))           // value
	const hasLabelMsg, userMsg = 244, 8
	label := "weavego"
	pkt := append([]byte{hasLabelMsg, byte(len(label))}, label...)
	pkt = append(pkt, userMsg)
	return append(pkt, msg...)
}

// sendUDP sends n copies of b to addr:port from a socket in h's namespace.
func sendUDP(t *testing.T, h *Host, addr string, port, n int, b []byte) {
	t.Helper()
	if err := inNetns(h.NSPath(), func() error {
		conn, err := net.Dial("udp", net.JoinHostPort(addr, fmt.Sprint(port)))
		if err != nil {
			return err
		}
		defer conn.Close()
		for range n {
			if _, err := conn.Write(b); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatalf("send UDP from %s to %s:%d: %v", h.Name, addr, port, err)
	}
}

// forgedGossip: the forged datagram does what it says on an open cluster (h4, INSECURE_OPEN=true), which shows
// that it is well formed; sent to the members it changes nothing.
func (s *security) forgedGossip(t *testing.T) {
	if err := s.h4.InstallPlugin(map[string]string{"INSECURE_OPEN": "true"}); err != nil {
		t.Fatal(err)
	}
	defer removePlugin(s.h4)
	defer func() { _, _ = s.h4.Docker("network", "rm", forgedNet) }()
	if logs := strings.Join(s.h4.PluginLogs(), "\n"); !strings.Contains(logs, "open") {
		t.Errorf("h4's log does not say that its cluster is open")
	}
	pkt := forgedDatagram()
	Eventually(t, time.Minute, func() error {
		sendUDP(t, s.h4, s.h4.IP.String(), gossipPort, 1, pkt)
		_, err := s.h4.NetworkView(forgedNet)
		return err
	})
	t.Logf("the forged datagram made the open host h4 create network %s", forgedNet)
	for _, h := range s.c.Hosts()[:3] {
		sendUDP(t, s.h4, h.IP.String(), gossipPort, 5, pkt)
	}
	time.Sleep(5 * time.Second) // more than the agent's reconcile period: an accepted entry would act by now
	for _, h := range s.c.Hosts()[:3] {
		if _, err := h.NetworkView(forgedNet); err == nil {
			t.Errorf("%s created network %s from a forged gossip datagram", h.Name, forgedNet)
		}
		st, err := h.Status()
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range st.Cluster.Networks {
			if n.Name == forgedNet {
				t.Errorf("%s's status lists the forged network %s", h.Name, forgedNet)
			}
		}
	}
}

// dnsScope: a container resolves the names of its own networks, on every host, and no others; an alias that
// looks like an outside name never shadows it; one DNS address serves every network.
func (s *security) dnsScope(t *testing.T) {
	s.h2.RunContainer(t, "--name", "secret", "--network", "net2", HTTPImage)
	s.h2.RunContainer(t, "--name", "shared", "--network", "net1", "--network-alias", "aliasok",
		"--network-alias", strings.TrimSuffix(OutsideName, "."), HTTPImage)
	s.h2.MustDocker(t, "network", "connect", "net2", "shared") // on both networks: both Joins must succeed
	s.h3.RunContainer(t, "--name", "client1", "--network", "net1", "--dns", s.gw1, BusyboxImage, "sleep", "3600")
	s.h3.RunContainer(t, "--name", "client2", "--network", "net2", "--dns", s.gw2, BusyboxImage, "sleep", "3600")
	s.h3.RunContainer(t, "--name", "client3", "--network", "net1", "--dns", DNSServiceAddr, BusyboxImage, "sleep", "3600")
	secret, err1 := s.h2.ContainerIP("secret", "net2")
	shared1, err2 := s.h2.ContainerIP("shared", "net1")
	shared2, err3 := s.h2.ContainerIP("shared", "net2")
	for _, err := range []error{err1, err2, err3} {
		if err != nil {
			t.Fatal(err)
		}
	}
	want := func(ctr, name string, ips ...string) func() error {
		return func() error {
			got, err := nslookup(s.h3, ctr, name)
			if err != nil && len(ips) > 0 {
				return err
			}
			slices.Sort(ips)
			if !slices.Equal(got, ips) {
				return fmt.Errorf("%s resolves %s to %v; want %v", ctr, name, got, ips)
			}
			return nil
		}
	}
	// Positive cases first, so that the negative ones run once names have spread.
	Eventually(t, time.Minute, want("client2", "secret", secret))
	Eventually(t, time.Minute, want("client1", "aliasok", shared1))
	Eventually(t, time.Minute, want("client2", "shared", shared2))
	Eventually(t, time.Minute, want("client3", "aliasok", shared1))
	Eventually(t, time.Minute, want("client1", OutsideName, outsideAddr))
	for _, c := range []struct {
		ctr, name string
		ips       []string
	}{
		{"client1", "secret", nil},
		{"client1", "secret.weavego.local", nil},
		{"client3", "secret", nil},
		{"client1", "shared", []string{shared1}},
		{"client3", OutsideName, []string{outsideAddr}},
	} {
		if err := want(c.ctr, c.name, c.ips...)(); err != nil {
			t.Error(err)
		}
	}
	t.Logf("net1 clients do not resolve secret (net2 only, %s); the alias %s answers from upstream (%s); "+
		"%s serves net1 at %s", secret, OutsideName, outsideAddr, "client3", DNSServiceAddr)
}

// dnsOutside: dnsd answers nobody outside the container networks, at the gateway nor at the service address,
// even when a route leads there.
func (s *security) dnsOutside(t *testing.T) {
	for _, dst := range []string{s.gw1, DNSServiceAddr} {
		if _, err := s.c.UnderlayExec("ip", "route", "add", dst+"/32", "via", s.h1.IP.String()); err != nil {
			t.Fatal(err)
		}
		defer func() { _, _ = s.c.UnderlayExec("ip", "route", "del", dst+"/32") }()
	}
	for _, dst := range []string{s.gw1, DNSServiceAddr} {
		for _, name := range []string{"shared", OutsideName, "1.0.99.10.in-addr.arpa"} {
			var r *dns.Msg
			err := inNetns(NetnsDir+"/"+s.c.UnderlayNS, func() error {
				q := new(dns.Msg)
				q.SetQuestion(dns.Fqdn(name), dns.TypeA)
				cl := &dns.Client{Timeout: 2 * time.Second}
				var err error
				r, _, err = cl.Exchange(q, net.JoinHostPort(dst, "53"))
				return err
			})
			switch {
			case err != nil:
				t.Logf("%s at %s from the underlay: no answer (%v)", name, dst, err)
			case r.Rcode == dns.RcodeRefused && len(r.Answer) == 0:
				t.Logf("%s at %s from the underlay: REFUSED", name, dst)
			default:
				t.Errorf("%s at %s from the underlay was answered: %s with %d records", name, dst,
					dns.RcodeToString[r.Rcode], len(r.Answer))
			}
		}
	}
}

// unsafeSubnets: docker network create refuses subnets and gateways that would route over the host's loopback,
// link-local or multicast space, with a sentence, and creates nothing.
func (s *security) unsafeSubnets(t *testing.T) {
	for _, c := range []struct{ args []string }{
		{[]string{"--subnet", "127.0.0.0/24"}},
		{[]string{"--subnet", "169.254.0.0/24"}},
		{[]string{"--subnet", "224.1.0.0/24"}},
		{[]string{"--subnet", "10.98.0.0/24", "--gateway", "10.98.0.255"}},
	} {
		args := append(append([]string{"network", "create"}, netArgs...), c.args...)
		out, err := s.h1.Docker(append(args, "unsafe")...)
		if err == nil {
			_, _ = s.h1.Docker("network", "rm", "unsafe")
			t.Errorf("docker network create %s was accepted: %s", strings.Join(c.args, " "), out)
			continue
		}
		t.Logf("%s: %s", strings.Join(c.args, " "), lastLine(oneLineErr(err)))
	}
	// The same command with a unicast subnet works, so the refusals above are the rules, not the command.
	s.h1.MustDocker(t, append(append([]string{"network", "create"}, netArgs...), "--subnet", "10.98.0.0/24", "safe")...)
	s.h1.MustDocker(t, "network", "rm", "safe")
}
