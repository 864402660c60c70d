//go:build linux

package e2e

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// Bound of the plugin kill case.
const (
	// pluginKillGapBound: the longest gap in a 100 ms ping across hosts while the plugin on the far end is
	// killed with SIGKILL again and again. The datapath lives in the kernel and does not need the plugin.
	pluginKillGapBound = time.Second
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

// twoHostNet is the fixture of the restart cases: 2 meshed hosts with net1 and a container on each (c1 on h1,
// c2 on h2, with args), owned by the test itself.
type twoHostNet struct {
	top    *testing.T // the test itself, which owns the cluster and the containers
	h1, h2 *Host
	ip2    string // c2's address on net1
}

func newTwoHostNet(t *testing.T) *twoHostNet {
	c := NewCluster(t, ClusterOptions{Hosts: 2, Mesh: 2})
	return &twoHostNet{top: t, h1: c.Host(0), h2: c.Host(1)}
}

// containers creates net1 with subnet and starts c1 and c2 (c2 with args), then waits until c1 reaches c2.
func (s *twoHostNet) containers(subnet string, args ...string) func(*testing.T) {
	return func(t *testing.T) {
		s.h1.MustDocker(t, append(append([]string{"network", "create"}, netArgs...), "--subnet", subnet, "net1")...)
		waitNetwork(t, "net1", s.h2)
		runFor(t, s.top, s.h1, "--network", "net1", "--name", "c1", BusyboxImage, "sleep", "36000")
		runFor(t, s.top, s.h2, append(append([]string{"--network", "net1", "--name", "c2"}, args...), BusyboxImage, "sleep", "36000")...)
		var err error
		if s.ip2, err = s.h2.ContainerIP("c2", "net1"); err != nil {
			t.Fatal(err)
		}
		Eventually(t, time.Minute, func() error { _, err := execIn(s.h1, "c1", "ping", "-c1", "-W1", s.ip2); return err })
	}
}

// pingC2 starts count pings, 100 ms apart, from c1 to c2, and returns what waits for their output.
func (s *twoHostNet) pingC2(count int) (wait func() (string, error)) {
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := execIn(s.h1, "c1", "ping", "-c", strconv.Itoa(count), "-i", "0.1", "-W", "1", s.ip2)
		done <- result{out, err}
	}()
	return func() (string, error) { r := <-done; return r.out, r.err }
}

// TestFaultsPluginKillLoop: the plugin on one host is killed with -9 five times under a 100 ms ping from
// another host; the longest gap stays under a second.
func TestFaultsPluginKillLoop(t *testing.T) {
	RequirePlugin(t)
	s := newTwoHostNet(t)
	runSteps(t, []step{
		{"Containers", s.containers("10.53.0.0/24")},
		{"KillUnderPing", s.killUnderPing},
	}, "Containers")
}

// killUnderPing kills h2's plugin five times, 3 s apart, under a 100 ms ping from c1 to c2.
func (s *twoHostNet) killUnderPing(t *testing.T) {
	const count = 400 // 40 s at 100 ms
	wait := s.pingC2(count)
	kills := 0
	for range 5 {
		time.Sleep(3 * time.Second)
		old, err := s.h2.KillPlugin()
		if err != nil {
			t.Fatal(err)
		}
		kills++
		waitPluginBack(t, s.h2, old, time.Minute)
	}
	out, pingErr := wait()
	gap, replies := longestGap(out, count, 100*time.Millisecond)
	t.Logf("plugin on h2 killed %d times under a 100 ms ping from h1: %d of %d replies, longest gap %s (ping: %v)",
		kills, replies, count, gap, pingErr)
	if gap >= pluginKillGapBound {
		t.Errorf("longest ping gap %s; want under %s", gap, pluginKillGapBound)
	}
	reportFaultStep(t, s.top, faultRow{Case: "plugin killed with -9 five times under cross-host traffic",
		Bound:    "longest gap of a 100 ms ping under " + pluginKillGapBound.String(),
		Measured: fmt.Sprintf("longest gap %s, %d of %d replies", gap, replies, count), Pass: gap < pluginKillGapBound})
}
