//go:build linux

package e2e

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// liveRestoreGapBound: the longest gap in a 100 ms ping across hosts while dockerd on the far end, with
// live-restore, is stopped and started again. Its containers and the plugin keep running, so nothing should
// be lost; the bound is that of a plugin crash.
const liveRestoreGapBound = time.Second

// TestFaultsLiveRestore: on a host whose dockerd has live-restore, dockerd is stopped (SIGTERM) and started
// again under a 100 ms ping from another host. Docker leaves the containers and the enabled plugin running, so
// the plugin gets no SIGTERM and parks nothing: the ping goes on, the container keeps its address, and the
// plugin, once the new dockerd has taken it back, serves a new container.
func TestFaultsLiveRestore(t *testing.T) {
	RequirePlugin(t)
	s := newTwoHostNet(t)
	runSteps(t, []step{
		{"LiveRestoreOn", s.liveRestoreOn},
		{"Containers", s.containers("10.56.0.0/24")},
		{"RestartUnderPing", s.restartLiveUnderPing},
		{"NewContainer", s.newContainerAfterRestore},
	}, "LiveRestoreOn", "Containers")
}

// liveRestoreOn restarts h2's dockerd with live-restore. The plugin is disabled before the cluster's teardown
// stops dockerd, which with live-restore would leave it running.
func (s *twoHostNet) liveRestoreOn(t *testing.T) {
	s.top.Cleanup(func() { _, _ = s.h2.Docker("plugin", "disable", "-f", PluginName) })
	s.h2.SetLiveRestore(true)
	if err := s.h2.StopDocker(); err != nil {
		t.Fatal(err)
	}
	if err := s.h2.StartDocker(); err != nil {
		t.Fatal(err)
	}
	Eventually(t, time.Minute, func() error { _, err := s.h2.Status(); return err })
}

// restartLiveUnderPing stops and starts h2's dockerd under a 100 ms ping from c1 to c2.
func (s *twoHostNet) restartLiveUnderPing(t *testing.T) {
	const count = 200 // 20 s at 100 ms
	before, err := s.h2.PluginPIDs()
	if err != nil {
		t.Fatal(err)
	}
	wait := s.pingC2(count)
	time.Sleep(3 * time.Second)
	if err := s.h2.StopDocker(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // dockerd down while traffic flows
	if err := s.h2.StartDocker(); err != nil {
		t.Fatal(err)
	}
	out, pingErr := wait()
	gap, replies := longestGap(out, count, 100*time.Millisecond)
	after, err := s.h2.PluginPIDs()
	if err != nil {
		t.Fatal(err)
	}
	kept := len(before) == 1 && slices.Equal(before, after)
	t.Logf("dockerd on h2 (live-restore) stopped for 2 s and started under a 100 ms ping from h1: %d of %d replies, longest gap %s (ping: %v); plugin pids %v before, %v after",
		replies, count, gap, pingErr, before, after)
	if gap >= liveRestoreGapBound {
		t.Errorf("longest ping gap %s; want under %s", gap, liveRestoreGapBound)
	}
	if ip, err := s.h2.ContainerIP("c2", "net1"); err != nil || ip != s.ip2 {
		t.Errorf("c2 after the restart: address %q (%v), had %s", ip, err, s.ip2)
	}
	reportFaultStep(t, s.top, faultRow{Case: "dockerd with live-restore stopped and started under cross-host traffic",
		Bound:    "longest gap of a 100 ms ping under " + liveRestoreGapBound.String() + ", same address",
		Measured: fmt.Sprintf("longest gap %s, %d of %d replies, plugin process kept: %v", gap, replies, count, kept),
		Pass:     gap < liveRestoreGapBound})
}

// newContainerAfterRestore starts c3 on h2 once its plugin answers again, and waits until c1 reaches it.
func (s *twoHostNet) newContainerAfterRestore(t *testing.T) {
	Eventually(t, time.Minute, func() error { _, err := s.h2.Status(); return err })
	runFor(t, s.top, s.h2, "--network", "net1", "--name", "c3", BusyboxImage, "sleep", "36000")
	ip3, err := s.h2.ContainerIP("c3", "net1")
	if err != nil {
		t.Fatal(err)
	}
	Eventually(t, time.Minute, func() error { _, err := execIn(s.h1, "c1", "ping", "-c1", "-W1", ip3); return err })
}
