//go:build linux

package e2e

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The steps of TestSecurity about what reaches a member host: VXLAN from a stranger and from the host's own
// users, containers knocking on host ports, local users at the control socket.

// vxlanDrops returns the count of VXLAN datagrams h's firewall dropped because they came from no member.
func vxlanDrops(t *testing.T, h *Host) int {
	t.Helper()
	return mustStatus(t, h).Firewall.VXLANNonMember
}

// fromContainerDrops returns the count of packets from containers h's firewall dropped.
func fromContainerDrops(t *testing.T, h *Host) int {
	t.Helper()
	return mustStatus(t, h).Firewall.FromContainer
}

// vxlanFromStranger: VXLAN datagrams from an address that is no member are dropped, and counted.
func (s *security) vxlanFromStranger(t *testing.T) {
	before := vxlanDrops(t, s.h1)
	frame := make([]byte, 8+64) // VXLAN header (I flag, VNI 1) and a junk frame
	frame[0] = 0x08
	frame[6] = 1
	sendUDP(t, s.h4, s.h1.IP.String(), vxlanPort, 10, frame)
	Eventually(t, 10*time.Second, func() error {
		if d := vxlanDrops(t, s.h1) - before; d < 10 {
			return fmt.Errorf("h1 counted %d VXLAN datagrams from the stranger h4 as dropped; want 10", d)
		}
		return nil
	})
	t.Logf("h1 dropped the 10 VXLAN datagrams from h4 (counter went from %d)", before)
}

// vxlanFromLocalUser: a local user other than root sends VXLAN datagrams to another member from the host's own
// address, which the member's allowlist would accept; the host's output chain drops and counts them.
func (s *security) vxlanFromLocalUser(t *testing.T) {
	before := vxlanDrops(t, s.h1)
	// Each write fails with "Operation not permitted": the drop is in the output path.
	script := fmt.Sprintf("for i in 1 2 3; do echo frame > /dev/udp/%s/%d; done 2>/dev/null; true", s.h2.IP, vxlanPort)
	if out, err := s.h1.Exec("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bash", "-c", script); err != nil {
		t.Fatalf("send as nobody: %v %s", err, out)
	}
	Eventually(t, 10*time.Second, func() error {
		if d := vxlanDrops(t, s.h1) - before; d < 3 {
			return fmt.Errorf("h1 counted %d of nobody's 3 VXLAN datagrams to h2 as dropped", d)
		}
		return nil
	})
	t.Logf("h1 dropped nobody's VXLAN datagrams to h2 (counter went from %d)", before)
}

// secondAddr is an address of the underlay prefix that no host has (hosts have .10 and up, the gateway .1).
var secondAddr = AddrAt(UnderlayPrefix, 200).String()

// vxlanToSecondAddress: a container on h1, masqueraded on its way out to h1's address (a member's), sends VXLAN
// to a second address of h2. The kernel's VXLAN socket takes datagrams to every local address and h1's forward
// rule knows only the members' underlay addresses; h2 accepts VXLAN only at its own and counts the rest.
func (s *security) vxlanToSecondAddress(t *testing.T) {
	if out, err := s.h2.Exec("ip", "addr", "add", secondAddr+"/32", "dev", "eth0"); err != nil {
		t.Fatalf("add %s to h2: %v %s", secondAddr, err, out)
	}
	defer func() { _, _ = s.h2.Exec("ip", "addr", "del", secondAddr+"/32", "dev", "eth0") }()
	s.h1.RunContainer(t, "--name", "vxlan-sender", "--network", "net1", BusyboxImage, "sleep", "3600")
	s.h1.MustDocker(t, "cp", buildUDPEcho(t), "vxlan-sender:/udpecho")
	before := vxlanDrops(t, s.h2)
	for range 2 { // each send tries three times, and gets no answer
		_, _ = execIn(s.h1, "vxlan-sender", "/udpecho", "send", fmt.Sprintf("%s:%d", secondAddr, vxlanPort), "frame")
	}
	Eventually(t, 10*time.Second, func() error {
		if d := vxlanDrops(t, s.h2) - before; d < 6 {
			return fmt.Errorf("h2 counted %d of the 6 VXLAN datagrams a container of h1 sent to its second address %s "+
				"as dropped", d, secondAddr)
		}
		return nil
	})
	t.Logf("h2 dropped the 6 VXLAN datagrams that h1's container sent, masqueraded to h1, to h2's second address %s "+
		"(counter went from %d)", secondAddr, before)
}

// hostListener accepts TCP connections on probePort in h's namespace and counts them.
func hostListener(t *testing.T, h *Host) *atomic.Int64 {
	t.Helper()
	var l net.Listener
	if err := inNetns(h.NSPath(), func() (err error) {
		l, err = net.Listen("tcp", fmt.Sprintf(":%d", probePort))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var n atomic.Int64
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			conn.Close()
		}
	}()
	return &n
}

// connects reports whether container ctr on h opens a TCP connection to addr:port within 3 s.
func connects(h *Host, ctr, addr string, port int) bool {
	_, err := execIn(h, ctr, "timeout", "5", "nc", "-w", "3", addr, fmt.Sprint(port))
	return err == nil
}

// hostPorts: containers on a weavego network, --internal or not, reach no port of their host on their gateway
// but DNS; through their egress (docker_gwbridge) they reach the host as any Docker container does, but not
// its gossip port. The gateway is in the network's own namespace, not the host's, so the gateway cases hold by
// construction (the host's listener is not on that path at all); they stay to show it.
func (s *security) hostPorts(t *testing.T) {
	accepted := hostListener(t, s.h1)
	if out, err := s.h1.Exec("busybox", "timeout", "5", "busybox", "nc", "-w", "3", s.h1.IP.String(), fmt.Sprint(probePort)); err != nil {
		t.Fatalf("the host itself cannot reach its test listener at %s:%d: %v %s", s.h1.IP, probePort, err, out)
	}
	hostSide := accepted.Load()
	s.h1.RunContainer(t, "--name", "port-prober", "--network", "net1", BusyboxImage, "sleep", "3600")
	s.h1.RunContainer(t, "--name", "port-prober-int", "--network", "inet", BusyboxImage, "sleep", "3600")
	gwInt := s.gateway(t, "inet")
	cases := []struct {
		ctr, addr string
		port      int
	}{
		{"port-prober", s.gw1, probePort},
		{"port-prober", s.gw1, gossipPort},
		{"port-prober", s.gw1, 6782},
		{"port-prober", s.h1.IP.String(), gossipPort},
		{"port-prober", s.h2.IP.String(), gossipPort},
		{"port-prober-int", gwInt, probePort},
		{"port-prober-int", s.h1.IP.String(), probePort},
		{"port-prober-int", gwInt, gossipPort},
	}
	for _, c := range cases {
		if connects(s.h1, c.ctr, c.addr, c.port) {
			t.Errorf("container %s connected to %s:%d on its host", c.ctr, c.addr, c.port)
		}
	}
	if n := accepted.Load() - hostSide; n != 0 {
		t.Errorf("the host's listener on port %d accepted %d connections from containers", probePort, n)
	}
	// Through the egress NAT a container's VXLAN datagram to another member would carry its host's (a member's)
	// address and pass the allowlist there: the host drops it on the way out, and counts it.
	s.h1.MustDocker(t, "cp", buildUDPEcho(t), "port-prober:/udpecho")
	before := fromContainerDrops(t, s.h1)
	for range 2 { // each send tries three times, and gets no answer
		if out, err := execIn(s.h1, "port-prober", "/udpecho", "send", fmt.Sprintf("%s:%d", s.h2.IP, vxlanPort), "frame"); err == nil {
			t.Errorf("a container's datagram to h2's VXLAN port was answered: %s", out)
		}
	}
	if d := fromContainerDrops(t, s.h1) - before; d < 6 {
		t.Errorf("h1 counted %d of the 6 VXLAN datagrams its container sent to h2 as dropped", d)
	}
	// DNS at the gateway is what containers may use.
	Eventually(t, 30*time.Second, func() error {
		ips, err := nslookupAt(s.h1, "port-prober", OutsideName, s.gw1)
		if err != nil || !slices.Equal(ips, []string{outsideAddr}) {
			return fmt.Errorf("%s at %s from a container: %v, %v; want [%s]", OutsideName, s.gw1, ips, err, outsideAddr)
		}
		return nil
	})
	t.Logf("%d host ports refused to containers on net1 and the --internal inet; DNS at %s answers", len(cases), s.gw1)
}

// statusGID is the group given to the members as STATUS_GROUP; no user has it but the tests' nobody.
const statusGID = 4242

// securityEnv is the members' settings in TestSecurity.
func securityEnv() map[string]string {
	env := upstreamDNSEnv()
	env["STATUS_GROUP"] = fmt.Sprint(statusGID)
	return env
}

// asNobody runs the weavego command on h as user nobody, in no group.
func asNobody(h *Host, args ...string) (string, error) {
	return asNobodyWith(h, "--clear-groups", args...)
}

// asNobodyWith runs the weavego command on h as user nobody with setpriv's groups option (--clear-groups,
// --groups=GID).
func asNobodyWith(h *Host, groups string, args ...string) (string, error) {
	cmd := append([]string{"setpriv", "--reuid=65534", "--regid=65534", groups, weavegoBin(),
		"--socket", h.ControlSocket()}, args...)
	return h.Exec(cmd...)
}

// localUser: an unprivileged user on a host can neither read nor change the cluster through the plugin, one in
// STATUS_GROUP can read the status but neither change the cluster nor read the key, and root can remove only
// members that exist.
func (s *security) localUser(t *testing.T) {
	if out, err := asNobody(s.h1, "version"); err != nil {
		t.Fatalf("nobody cannot run the weavego command at all (test setup): %v %s", err, out)
	}
	victim := s.c.Peer[s.h3]
	for _, args := range [][]string{{"rmpeer", victim}, {"status"}, {"token"}} {
		out, err := asNobody(s.h1, args...)
		if err == nil {
			t.Errorf("weavego %s as nobody on h1 succeeded: %s", strings.Join(args, " "), out)
			continue
		}
		t.Logf("weavego %s as nobody: %s", strings.Join(args, " "), strings.TrimSpace(lastLine(out+oneLineErr(err))))
	}
	s.statusGroup(t, victim)
	st, err := s.h1.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.peerState(s.h3.IP.String()) != "alive" {
		t.Errorf("h3 is no longer an alive member after nobody's rmpeer")
	}
	out, err := s.h1.WeavegoCLI("rmpeer", "no-such-host")
	if err == nil {
		t.Errorf("rmpeer of a host that never was a member succeeded: %s", out)
	}
	t.Logf("root's rmpeer no-such-host: %s", strings.TrimSpace(lastLine(out+oneLineErr(err))))
}

// statusGroup: nobody in STATUS_GROUP reads the status (through the status socket, which the command falls back
// to) and is refused, with a sentence, every command that changes the cluster or reveals the key.
func (s *security) statusGroup(t *testing.T, victim string) {
	key, err := s.h1.WeavegoCLI("token")
	if err != nil {
		t.Fatal(err)
	}
	key = strings.TrimSpace(key)
	groups := fmt.Sprintf("--groups=%d", statusGID)
	out, err := asNobodyWith(s.h1, groups, "status", "peers")
	if err != nil || !strings.Contains(out, s.h3.IP.String()) {
		t.Errorf("weavego status as nobody in STATUS_GROUP: %v %s", err, out)
	} else {
		t.Logf("weavego status peers as nobody in STATUS_GROUP lists h3 (%s)", s.h3.IP)
	}
	for _, args := range [][]string{{"token"}, {"key", "list"}, {"key", "install", NewClusterKey(t)}, {"rmpeer", victim},
		{"connect", s.h4.IP.String()}, {"forget", s.h2.IP.String()}} {
		out, err := asNobodyWith(s.h1, groups, args...)
		msg := strings.TrimSpace(lastLine(out + oneLineErr(err)))
		switch {
		case err == nil:
			t.Errorf("weavego %s as nobody in STATUS_GROUP succeeded: %s", strings.Join(args, " "), out)
		case strings.Contains(out+err.Error(), key):
			t.Errorf("weavego %s as nobody in STATUS_GROUP printed the cluster key", strings.Join(args, " "))
		case !strings.Contains(msg, "needs root or the CONTROL_GROUP group"):
			t.Errorf("weavego %s as nobody in STATUS_GROUP: %q; want the refusal sentence", strings.Join(args, " "), msg)
		default:
			t.Logf("weavego %s as nobody in STATUS_GROUP: %s", strings.Join(args, " "), msg)
		}
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
