//go:build linux

package e2e

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/vishvananda/netlink"
)

// What the DNS flood steps send.
const (
	// spoofedSources is how many addresses of its own subnet the flooding container sends from (what a
	// container with CAP_NET_RAW, a Docker default, can forge): each gets a client budget of its own.
	spoofedSources = 64
	// slowFloodRate is the flooder's queries per second for names that never answer: more than a network may
	// forward in a second (1,000) and, as each forward waits 2 s, enough to hold the host's 1,024 in flight.
	slowFloodRate = 1500
	slowFloodFor  = 8 * time.Second
	localFloodFor = 10 * time.Second
	// localFloodSockets per flooding container send as fast as they can.
	localFloodSockets = 4
	// answerShare is the default answer rate of one network (a quarter of DNS_ANSWER_RATE's 20,000).
	answerShare = 5000
)

// floodFixture is what a flood step makes on h3 (removed at the end of the step): a container on net1 that
// floods, and a network of its own with a container on it.
type floodFixture struct {
	gw1, gw2            string
	flooderNS, victimNS string
}

// floodSetup creates the step's network NAME2 and the containers NAME-flooder on net1 and NAME-victim on it.
func (s *dnsScenario) floodSetup(t *testing.T, name string) floodFixture {
	t.Helper()
	net2 := name + "2"
	s.h3.CreateNetwork(t, net2, netArgs...)
	v, err := s.h3.NetworkView(net2)
	if err != nil {
		t.Fatal(err)
	}
	s.h3.RunContainer(t, "--name", name+"-flooder", "--network", "net1", BusyboxImage, "sleep", "3600")
	s.h3.RunContainer(t, "--name", name+"-victim", "--network", net2, BusyboxImage, "sleep", "3600")
	return floodFixture{gw1: s.gw, gw2: v.Gateway, flooderNS: sandboxOf(t, s.h3, name+"-flooder"),
		victimNS: sandboxOf(t, s.h3, name+"-victim")}
}

func sandboxOf(t *testing.T, h *Host, ctr string) string {
	t.Helper()
	out, err := h.Docker("inspect", "--format", "{{.NetworkSettings.SandboxKey}}", ctr)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// slowNamesStayInTheirNetwork: a container on net1 sends from spoofedSources addresses of its subnet, faster
// than its network may forward, names the upstream never answers. It fills net1's share of the forwards in
// flight; a container on another network of the same host (slow2) still gets its outside name answered,
// never SERVFAIL.
func (s *dnsScenario) slowNamesStayInTheirNetwork(t *testing.T) {
	l := s.floodSetup(t, "slow")
	victim := newDNSClient(t, s.h3, "slow-victim", l.gw2)
	Eventually(t, time.Minute, func() error { return answersOutside(victim) })
	conns := spoofedConns(t, l.flooderNS, s.subnetOf(t, "net1"), l.gw1)
	before := mustStatus(t, s.h3).DNS.Stats
	stop := make(chan struct{})
	var sent atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		floodNames(conns, slowFloodRate, func(i int64) string { return fmt.Sprintf("q%d.slow.example.", i) }, stop, &sent)
	}()
	time.Sleep(2 * time.Second) // forwards last 2 s: the flood now holds what it can
	rcodes := map[string]int{}
	for end := time.Now().Add(slowFloodFor - 2*time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if err := answersOutside(victim); err != nil {
			rcodes[err.Error()]++
		} else {
			rcodes["answered"]++
		}
	}
	close(stop)
	wg.Wait()
	after := mustStatus(t, s.h3).DNS.Stats
	t.Logf("net1's flooder sent %d slow names from %d addresses in %s; h3's dnsd meanwhile: %d forwarded, %d SERVFAIL, %d over budget; slow2's victim: %v",
		sent.Load(), spoofedSources, slowFloodFor, after.Forwarded-before.Forwarded, after.ServFail-before.ServFail,
		after.OverBudget-before.OverBudget, rcodes)
	if after.ServFail-before.ServFail == 0 {
		t.Errorf("the flood never filled net1's share (no SERVFAIL): it tested nothing")
	}
	if len(rcodes) != 1 || rcodes["answered"] == 0 {
		t.Errorf("a container on slow2 did not always get %s answered while net1 flooded slow names: %v", OutsideName, rcodes)
	}
	time.Sleep(2500 * time.Millisecond) // let the flood's forwards time out before the next step
}

// answersOutside asks c for OutsideName and says what went wrong, if anything.
func answersOutside(c *dnsClient) error {
	r, err := c.Query(OutsideName, dns.TypeA)
	switch {
	case err != nil:
		return fmt.Errorf("no answer")
	case r.Rcode != dns.RcodeSuccess:
		return fmt.Errorf("%s", dns.RcodeToString[r.Rcode])
	case len(r.Answer) == 0:
		return fmt.Errorf("no address")
	}
	return nil
}

// localFloodKeepsMembersAlive: containers on net1 and local2 of h3 ask h3's dnsd, as fast as they can, names it
// answers itself (an address, an NXDOMAIN). dnsd answers each network at most its share of DNS_ANSWER_RATE and
// drops the rest, and h3 keeps acking gossip probes in time: h1 and h2 see it alive throughout, and it sees
// them alive. The plugin's CPU over the flood is measured and logged.
func (s *dnsScenario) localFloodKeepsMembersAlive(t *testing.T) {
	l := s.floodSetup(t, "local")
	conns := append(socketsIn(t, l.flooderNS, l.gw1, localFloodSockets), socketsIn(t, l.victimNS, l.gw2, localFloodSockets)...)
	pid, err := pluginPID(s.h3)
	if err != nil {
		t.Fatal(err)
	}
	before, cpu0, start := mustStatus(t, s.h3).DNS.Stats, processCPU(t, pid), time.Now()
	stop := make(chan struct{})
	var sent atomic.Int64
	var wg sync.WaitGroup
	for i, c := range conns {
		name := "svc1.weavego.local."
		if i%2 == 1 {
			name = "nosuch.weavego.local."
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			floodNames([]net.Conn{c}, 0, func(int64) string { return name }, stop, &sent)
		}()
	}
	problems := map[string]int{}
	polls := 0
	for end := start.Add(localFloodFor); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		polls++
		for _, p := range s.membersNotAlive() {
			problems[p]++
		}
	}
	close(stop)
	wg.Wait()
	took, cpu := time.Since(start), processCPU(t, pid)-cpu0
	after := mustStatus(t, s.h3).DNS.Stats
	answered, dropped := after.Queries-before.Queries, after.Throttled-before.Throttled
	t.Logf("local flood on h3 for %s from 2 containers on 2 networks: %d queries sent (%.0f/s), %d answered (%.0f/s), %d dropped over the answer rate; "+
		"h3's plugin used %.2f s of CPU (%.0f%% of one core); %d status polls of the 3 hosts, members not alive: %v",
		took.Round(time.Millisecond), sent.Load(), float64(sent.Load())/took.Seconds(), answered,
		float64(answered)/took.Seconds(), dropped, cpu.Seconds(), 100*cpu.Seconds()/took.Seconds(), polls, problems)
	if len(problems) > 0 {
		t.Errorf("members were not alive during the local DNS flood on h3: %v", problems)
	}
	if dropped == 0 {
		t.Errorf("nothing was dropped over the answer rate: the flood (%d queries) tested nothing", sent.Load())
	}
	if limit := 2 * (answerShare*took.Seconds() + answerShare/10 + 100); float64(answered) > limit {
		t.Errorf("h3's dnsd answered %d queries of two networks in %s; their answer rates allow %.0f", answered, took, limit)
	}
}

// membersNotAlive lists, for each host, the other members its `weavego status` does not show alive.
func (s *dnsScenario) membersNotAlive() []string {
	var out []string
	for _, h := range s.c.Hosts() {
		st, err := h.Status()
		if err != nil {
			out = append(out, fmt.Sprintf("%s: status: %v", h.Name, err))
			continue
		}
		for _, o := range s.c.Hosts() {
			if state := st.peerState(o.IP.String()); o != h && state != "alive" {
				out = append(out, fmt.Sprintf("%s sees %s %q", h.Name, o.Name, state))
			}
		}
	}
	return out
}

// subnetOf returns the subnet of network on h3.
func (s *dnsScenario) subnetOf(t *testing.T, network string) netip.Prefix {
	t.Helper()
	v, err := s.h3.NetworkView(network)
	if err != nil {
		t.Fatal(err)
	}
	p, err := netip.ParsePrefix(v.Subnet)
	if err != nil {
		t.Fatalf("subnet of %s: %v", network, err)
	}
	return p
}

// spoofedConns adds spoofedSources addresses from the upper half of subnet (above what the test's containers
// get) to eth0 in the container namespace ns, and opens a UDP socket from each to server:53.
func spoofedConns(t *testing.T, ns string, subnet netip.Prefix, server string) []net.Conn {
	t.Helper()
	var conns []net.Conn
	a := subnet.Addr()
	for range 150 {
		a = a.Next()
	}
	err := inNetns(ns, func() error {
		eth, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		for range spoofedSources {
			a = a.Next()
			if err := netlink.AddrAdd(eth, &netlink.Addr{IPNet: netipNet(a, subnet.Bits())}); err != nil {
				return fmt.Errorf("add %s: %w", a, err)
			}
			c, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, 0)),
				net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(server), 53)))
			if err != nil {
				return err
			}
			conns = append(conns, c)
		}
		return nil
	})
	closeAll := func() {
		for _, c := range conns {
			c.Close()
		}
	}
	t.Cleanup(closeAll)
	if err != nil {
		t.Fatalf("sources in %s: %v", ns, err)
	}
	return conns
}

func netipNet(a netip.Addr, bits int) *net.IPNet {
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(bits, a.BitLen())}
}

// socketsIn opens n UDP sockets to server:53 in the container namespace ns.
func socketsIn(t *testing.T, ns, server string, n int) []net.Conn {
	t.Helper()
	var conns []net.Conn
	err := inNetns(ns, func() error {
		for range n {
			c, err := net.Dial("udp", net.JoinHostPort(server, "53"))
			if err != nil {
				return err
			}
			conns = append(conns, c)
		}
		return nil
	})
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	if err != nil {
		t.Fatalf("sockets in %s: %v", ns, err)
	}
	return conns
}

// floodNames sends queries for name(i), i counting up, from conns in turn, at most rate a second (0: as fast
// as a write goes), until stop is closed, and counts them in sent. Replies are not read.
func floodNames(conns []net.Conn, rate int, name func(i int64) string, stop <-chan struct{}, sent *atomic.Int64) {
	var every time.Duration
	if rate > 0 {
		every = time.Second / time.Duration(rate)
	}
	start, last, b := time.Now(), "", []byte(nil)
	for i := int64(0); ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		if every > 0 {
			if d := time.Until(start.Add(time.Duration(i) * every)); d > 0 {
				time.Sleep(d)
			}
		}
		if n := name(i); n != last || b == nil {
			var err error
			if b, err = new(dns.Msg).SetQuestion(n, dns.TypeA).Pack(); err != nil {
				return
			}
			last = n
		}
		if _, err := conns[i%int64(len(conns))].Write(b); err == nil {
			sent.Add(1)
		}
	}
}

// processCPU is the user and system CPU time pid has used.
func processCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// After the command, in parentheses: state is field 3 of the line, utime 14 and stime 15.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("/proc/%d/stat: %q", pid, b)
	}
	const clockTicks = 100 // USER_HZ
	return time.Duration(utime+stime) * time.Second / clockTicks
}
