//go:build linux

package e2e

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// encFaultResumeBound: after each fault on an encrypted network, traffic across hosts resumes within this bound
// (a generous bound for "traffic resumes", not a timing assertion on the gap, which is reported).
const encFaultResumeBound = 2 * time.Minute

// TestFaultsEncrypted: an encrypted network between two hosts under a 100 ms ping from c1 (h1) to c2 (h2, --restart
// always) while h2's plugin, which runs its userspace WireGuard, is killed with -9, then disabled and enabled,
// while h2 is cut off from the underlay until h1 declares it dead and then reconnected, and while h2's dockerd
// restarts (c2 and the plugin with it). For each: the longest gap in the ping,
// traffic resumes, and the underlay capture sees no plain VXLAN of the network nor any datagram of the encrypted
// VXLAN port outside the tunnel (never clear text). A dead h2 is dropped from h1's WireGuard device.
func TestFaultsEncrypted(t *testing.T) {
	RequirePlugin(t)
	c := NewCluster(t, ClusterOptions{Hosts: 2, Mesh: 2})
	s := &encFaults{twoHostNet: &twoHostNet{top: t, h1: c.Host(0), h2: c.Host(1)}, c: c}
	runSteps(t, []step{
		{"Containers", s.containers("10.56.0.0/24", "-o", "encrypted")},
		{"PluginKill", s.pluginKill},
		{"PluginDisableEnable", s.pluginDisableEnable},
		{"PartitionHeal", s.partitionHeal},
		{"DockerdRestart", s.dockerdRestart},
	}, "Containers")
}

// encFaults is the fixture of TestFaultsEncrypted.
type encFaults struct {
	*twoHostNet
	c *Cluster
}

// containers creates the encrypted net1 and c1 and c2, and waits until c1 reaches c2 over it.
func (s *encFaults) containers(subnet string, opts ...string) func(*testing.T) {
	return func(t *testing.T) {
		s.h1.MustDocker(t, append(append(append([]string{"network", "create"}, netArgs...), "--subnet", subnet), append(opts, "net1")...)...)
		waitNetwork(t, "net1", s.h2)
		runFor(t, s.top, s.h1, "--network", "net1", "--name", "c1", BusyboxImage, "sleep", "36000")
		runFor(t, s.top, s.h2, "--network", "net1", "--name", "c2", "--restart", "always", BusyboxImage, "sleep", "36000")
		var err error
		if s.ip2, err = s.h2.ContainerIP("c2", "net1"); err != nil {
			t.Fatal(err)
		}
		Eventually(t, time.Minute, func() error { _, err := execIn(s.h1, "c1", "ping", "-c1", "-W1", s.ip2); return err })
	}
}

// underFault runs fault under a 100 ms ping from c1 to c2 with the underlay captured, waits until c1 reaches c2
// again, and reports the longest gap. fault returns when the fault is over (the plugin back, the link up) and
// what to add to the figure.
func (s *encFaults) underFault(t *testing.T, name string, fault func(t *testing.T) string) {
	vni := networkVNI(t, s.h1, "net1")
	cp, err := s.c.StartCapture(nil, plainVXLANPort, encryptedVXLANPort)
	if err != nil {
		t.Fatal(err)
	}
	p, err := startPinger(s.h1, "c1", s.ip2)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	start := time.Now()
	extra := fault(t)
	over := time.Now()
	back := measure(t, over, encFaultResumeBound, func() error {
		_, err := execIn(s.h1, "c1", "ping", "-c1", "-W1", s.ip2)
		return err
	})
	time.Sleep(2 * time.Second)
	r := p.stop()
	counts, err := cp.Stop()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: fault lasted %s%s; a ping answered %s after it ended; pinger: %s", name,
		over.Sub(start).Round(time.Millisecond), extra, back.Round(time.Millisecond), r)
	t.Logf("underlay capture: %d frames; UDP by port %v; VXLAN by port and VNI %v", counts.Frames, counts.UDP, counts.VNI)
	neverInClear(t, counts, "", vni)
	reportFaultStep(t, s.top, faultRow{Case: "encrypted network: " + name,
		Bound: "traffic resumes (within " + encFaultResumeBound.String() + "); no plain VXLAN of the network and " +
			"nothing on the encrypted VXLAN port outside WireGuard on the underlay",
		Measured: fmt.Sprintf("longest gap of a 100 ms ping %s (%d of %d replies); a ping answered %s after the fault "+
			"ended%s", faultFigure(r.longestGap), r.replies, r.sent, faultFigure(back), extra),
		Pass: !t.Failed()})
}

// pluginKill kills h2's plugin with -9: its userspace WireGuard dies with it until Docker restarts it.
func (s *encFaults) pluginKill(t *testing.T) {
	s.underFault(t, "plugin on the far host killed with -9", func(t *testing.T) string {
		old, err := s.h2.KillPlugin()
		if err != nil {
			t.Fatal(err)
		}
		d := waitPluginBack(t, s.h2, old, time.Minute)
		return fmt.Sprintf("; plugin answered again %s after the kill", faultFigure(d))
	})
}

// pluginDisableEnable disables h2's plugin (with -f: containers run) and enables it again, as
// `docker plugin set` needs.
func (s *encFaults) pluginDisableEnable(t *testing.T) {
	s.underFault(t, "docker plugin disable -f and enable on the far host", func(t *testing.T) string {
		start := time.Now()
		s.h2.MustDocker(t, "plugin", "disable", "-f", PluginName)
		enablePlugin(t, s.h2)
		return fmt.Sprintf("; disable and enable took %s", faultFigure(time.Since(start)))
	})
}

// partitionHeal cuts h2 off the underlay until h1 declares it dead, checks that h1's WireGuard device no longer
// accepts h2's key, and reconnects it.
func (s *encFaults) partitionHeal(t *testing.T) {
	key2 := mustStatus(t, s.h2).Encryption.PublicKey
	s.underFault(t, "far host cut off the underlay until declared dead, then reconnected", func(t *testing.T) string {
		if err := s.h2.CutUnderlay(); err != nil {
			t.Fatal(err)
		}
		s.top.Cleanup(func() { _ = s.h2.RestoreUnderlay() })
		start := time.Now()
		wantPeerState(t, s.h1, s.h2.IP.String(), "dead", 2*time.Minute)
		dead := time.Since(start)
		Eventually(t, time.Minute, func() error {
			if peers := mustStatus(t, s.h1).Encryption.DevicePeers; slices.Contains(peers, key2) {
				return fmt.Errorf("h1's WireGuard device still accepts the key of h2, which is dead: %v", peers)
			}
			return nil
		})
		if err := s.h2.RestoreUnderlay(); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("; h2 declared dead after %s and dropped from h1's WireGuard device", faultFigure(dead))
	})
}

// dockerdRestart stops h2's dockerd (SIGTERM: c2 and the plugin stop with it) and starts it again, until the
// plugin answers and c2 runs again.
func (s *encFaults) dockerdRestart(t *testing.T) {
	s.underFault(t, "dockerd restarted (SIGTERM) on the far host, its container --restart always", func(t *testing.T) string {
		start := time.Now()
		if err := s.h2.StopDocker(); err != nil {
			t.Fatal(err)
		}
		if err := s.h2.StartDocker(); err != nil {
			t.Fatal(err)
		}
		Eventually(t, 2*time.Minute, func() error {
			if _, err := s.h2.Status(); err != nil {
				return err
			}
			ip, err := s.h2.ContainerIP("c2", "net1")
			if err == nil && ip != s.ip2 {
				return fmt.Errorf("c2 came back at %s, was %s", ip, s.ip2)
			}
			return err
		})
		return fmt.Sprintf("; dockerd, the plugin and c2 back after %s", faultFigure(time.Since(start)))
	})
}
