//go:build linux

package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// lossConvergeBound is how long after the churn every container reaches every container on the other hosts,
// with the loss still on (ping retried).
// The bounds are generous: under 30 % loss, memberlist's suspicions and TCP retransmits make convergence
// vary from run to run (measured 36 s to 89 s on a shared two-core machine).
var lossConvergeBound = map[int]time.Duration{10: 60 * time.Second, 30: 3 * time.Minute}

// dropUnderlay makes h's namespace drop pct % of the packets it sends and receives on its underlay address, at
// random (nftables numgen), until the returned function is called.
func dropUnderlay(t *testing.T, h *Host, pct int) func() {
	t.Helper()
	table := "weavego-e2e-loss"
	rules := fmt.Sprintf(`table inet %[1]s {
	chain in { type filter hook input priority -300; ip daddr %[2]s numgen random mod 100 < %[3]d drop; }
	chain out { type filter hook output priority -300; ip saddr %[2]s numgen random mod 100 < %[3]d drop; }
}`, table, h.IP, pct)
	if out, err := h.Exec("sh", "-c", "printf '%s\\n' \"$0\" | nft -f -", rules); err != nil {
		t.Fatalf("%s: add loss rules: %v %s", h.Name, err, out)
	}
	var once sync.Once
	undo := func() {
		once.Do(func() {
			if _, err := h.Exec("nft", "delete", "table", "inet", table); err != nil {
				t.Errorf("%s: remove loss rules: %v", h.Name, err)
			}
		})
	}
	t.Cleanup(undo)
	return undo
}

// TestFaultsPacketLoss: 10 % and then 30 % of the underlay's packets dropped at random on every host while
// containers start and stop on all three: every container gets an address, no address twice, and every
// container reaches the others within the bound.
func TestFaultsPacketLoss(t *testing.T) {
	RequirePlugin(t)
	c := NewCluster(t, ClusterOptions{Hosts: 3, Mesh: 3})
	s := &packetLoss{c: c}
	runSteps(t, []step{
		{"Net1", s.net1},
		{"10pct", s.loss(10)},
		{"30pct", s.loss(30)},
	}, "Net1")
}

// packetLoss is the fixture of TestFaultsPacketLoss: net1 on 3 hosts.
type packetLoss struct {
	c *Cluster
}

func (s *packetLoss) net1(t *testing.T) {
	s.c.Host(0).MustDocker(t, append(append([]string{"network", "create"}, netArgs...), "--subnet", "10.49.0.0/24", "net1")...)
	waitNetwork(t, "net1", s.c.Hosts()...)
}

// loss returns the step that drops pct % of the underlay's packets on every host during the churn.
func (s *packetLoss) loss(pct int) func(t *testing.T) {
	return func(t *testing.T) {
		var undo []func()
		for _, h := range s.c.Hosts() {
			undo = append(undo, dropUnderlay(t, h, pct))
		}
		churnStart := time.Now()
		running, failed := s.churnAll(pct)
		churnTook := time.Since(churnStart)
		ips := addresses(t, running)
		start := time.Now()
		d := allReach(t, start, lossConvergeBound[pct], running, ips)
		for _, u := range undo {
			u()
		}
		t.Logf("%d %% loss: churn of 18 containers took %s (%d docker run failed: %s); all reach all %s after it",
			pct, faultFigure(churnTook), len(failed), strings.Join(failed, "; "), faultFigure(d))
		if len(failed) > 0 {
			t.Errorf("%d docker run failed under %d %% loss", len(failed), pct)
		}
		if d > lossConvergeBound[pct] {
			t.Errorf("containers reached each other after %s; want within %s", d, lossConvergeBound[pct])
		}
		reportFault(t, faultRow{Case: fmt.Sprintf("packet loss %d %% on the underlay during churn on 3 hosts", pct),
			Bound:    fmt.Sprintf("every docker run succeeds, no address twice, all reach all within %s", lossConvergeBound[pct]),
			Measured: fmt.Sprintf("%d of 18 runs failed; all reach all after %s (churn took %s)", len(failed), faultFigure(d), faultFigure(churnTook)),
			Pass:     len(failed) == 0 && d <= lossConvergeBound[pct]})
		for h, names := range running {
			for _, n := range names {
				_, _ = h.Docker("rm", "-f", n)
			}
		}
	}
}

// churnAll churns 6 containers on every host at once and returns those left running on each and the failed runs.
func (s *packetLoss) churnAll(pct int) (running map[*Host][]string, failed []string) {
	running = map[*Host][]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, h := range s.c.Hosts() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			kept, f := churn(h, fmt.Sprintf("l%d-h%d", pct, i+1), 6)
			mu.Lock()
			running[h], failed = kept, append(failed, f...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return running, failed
}
