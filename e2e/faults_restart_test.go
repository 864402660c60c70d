//go:build linux

package e2e

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// Bounds of the restart cases.
const (
	// pluginKillGapBound: the longest gap in a 100 ms ping across hosts while the plugin on the far end is
	// killed with SIGKILL again and again. The datapath lives in the kernel and does not need the plugin.
	pluginKillGapBound = time.Second
	// dockerdRestartBound: after dockerd on a host is restarted with SIGTERM, its --restart always containers
	// are back with their addresses and reachable from another host.
	dockerdRestartBound = 90 * time.Second
)

var pingSeq = regexp.MustCompile(`seq=(\d+)`)

// longestGap returns the longest run of lost replies in ping output, as time at interval, and the count of
// replies.
func longestGap(out string, count int, interval time.Duration) (time.Duration, int) {
	got := map[int]bool{}
	for _, m := range pingSeq.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[1])
		got[n] = true
	}
	worst, run := 0, 0
	for i := range count {
		if got[i] {
			run = 0
			continue
		}
		run++
		worst = max(worst, run)
	}
	return time.Duration(worst+1) * interval, len(got)
}

// twoHostNet brings up 2 meshed hosts with net1 and a container on each, and returns the hosts and c2's address.
func twoHostNet(t *testing.T, subnet string, args ...string) (*Host, *Host, string) {
	t.Helper()
	wc := NewCluster(t, ClusterOptions{Hosts: 2, Mesh: 2})
	h1, h2 := wc.Host(0), wc.Host(1)
	h1.MustDocker(t, append(append([]string{"network", "create"}, netArgs...), "--subnet", subnet, "net1")...)
	Eventually(t, time.Minute, func() error {
		if !hasNetwork(h2, "net1") {
			return fmt.Errorf("net1 not on h2 yet")
		}
		return nil
	})
	h1.RunContainer(t, "--network", "net1", "--name", "c1", BusyboxImage, "sleep", "36000")
	h2.RunContainer(t, append(append([]string{"--network", "net1", "--name", "c2"}, args...), BusyboxImage, "sleep", "36000")...)
	ip2, err := h2.ContainerIP("c2", "net1")
	if err != nil {
		t.Fatal(err)
	}
	Eventually(t, time.Minute, func() error { _, err := execIn(h1, "c1", "ping", "-c1", "-W1", ip2); return err })
	return h1, h2, ip2
}

// TestFaultsPluginKillLoop: the plugin on one host is killed with -9 five times under a 100 ms ping from
// another host; the longest gap stays under a second.
func TestFaultsPluginKillLoop(t *testing.T) {
	RequirePlugin(t)
	h1, h2, ip2 := twoHostNet(t, "10.53.0.0/24")
	const count = 400 // 40 s at 100 ms
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := execIn(h1, "c1", "ping", "-c", strconv.Itoa(count), "-i", "0.1", "-W", "1", ip2)
		done <- result{out, err}
	}()
	kills := 0
	for range 5 {
		time.Sleep(3 * time.Second)
		old, err := h2.KillPlugin()
		if err != nil {
			t.Fatal(err)
		}
		kills++
		waitPluginBack(t, h2, old, time.Minute)
	}
	r := <-done
	gap, replies := longestGap(r.out, count, 100*time.Millisecond)
	t.Logf("plugin on h2 killed %d times under a 100 ms ping from h1: %d of %d replies, longest gap %s (ping: %v)",
		kills, replies, count, gap, r.err)
	if gap >= pluginKillGapBound {
		t.Errorf("longest ping gap %s; want under %s", gap, pluginKillGapBound)
	}
	reportFault(t, faultRow{Case: "plugin killed with -9 five times under cross-host traffic",
		Bound:    "longest gap of a 100 ms ping under " + pluginKillGapBound.String(),
		Measured: fmt.Sprintf("longest gap %s, %d of %d replies", gap, replies, count), Pass: gap < pluginKillGapBound})
}

// TestFaultsDockerdRestart: dockerd on a host with a running --restart always container is stopped with SIGTERM
// (as an upgrade does) and started again: the container is back with its address and reachable from another
// host.
func TestFaultsDockerdRestart(t *testing.T) {
	RequirePlugin(t)
	h1, h2, ip2 := twoHostNet(t, "10.54.0.0/24", "--restart", "always")
	if err := h2.StopDocker(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := h2.StartDocker(); err != nil {
		t.Fatal(err)
	}
	d := measure(t, start, dockerdRestartBound+time.Minute, func() error {
		ip, err := h2.ContainerIP("c2", "net1")
		if err != nil {
			return err
		}
		if ip != ip2 {
			return fmt.Errorf("c2 came back with %s, had %s", ip, ip2)
		}
		_, err = execIn(h1, "c1", "ping", "-c1", "-W1", ip2)
		return err
	})
	t.Logf("dockerd on h2 restarted with SIGTERM: c2 back at %s and reachable from h1 %s after dockerd started", ip2, faultFigure(d))
	if d > dockerdRestartBound {
		t.Errorf("c2 reachable after %s; want within %s", d, dockerdRestartBound)
	}
	reportFault(t, faultRow{Case: "dockerd restarted (SIGTERM) on a host with a --restart always container",
		Bound:    "same address, reachable from another host within " + dockerdRestartBound.String(),
		Measured: "back and reachable " + faultFigure(d) + " after dockerd started", Pass: d <= dockerdRestartBound})
}
