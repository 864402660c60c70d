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

// churn starts n containers named prefix-i on net1 on h, removing every other one as it goes; it returns the
// names left running and how many `docker run` failed.
func churn(h *Host, prefix string, n int) (kept []string, failed []string) {
	for i := range n {
		name := fmt.Sprintf("%s-%d", prefix, i)
		if _, err := h.Docker("run", "-d", "--network", "net1", "--name", name, BusyboxImage, "sleep", "3600"); err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", name, err))
			_, _ = h.Docker("rm", "-f", name)
			continue
		}
		if i%2 == 1 {
			_, _ = h.Docker("rm", "-f", name)
			continue
		}
		kept = append(kept, name)
	}
	return kept, failed
}

// addresses returns each container's address on net1, failing on a duplicate across hosts.
func addresses(t *testing.T, running map[*Host][]string) map[string]string {
	t.Helper()
	ips := map[string]string{}
	owner := map[string]string{}
	for h, names := range running {
		for _, n := range names {
			ip, err := h.ContainerIP(n, "net1")
			if err != nil {
				t.Fatal(err)
			}
			if o, dup := owner[ip]; dup {
				t.Errorf("address %s given twice: %s and %s/%s", ip, o, h.Name, n)
			}
			owner[ip] = h.Name + "/" + n
			ips[n] = ip
		}
	}
	return ips
}

// allReach waits until the first container on each host reaches every container on the other hosts, probing all
// pairs at once (a probe is 5 pings 200 ms apart, so that the loss itself does not fail it), and returns how long
// that took from start; it fails t when a pair is still unreachable after bound and a minute.
func allReach(t *testing.T, start time.Time, bound time.Duration, running map[*Host][]string, ips map[string]string) time.Duration {
	t.Helper()
	type result struct {
		d   time.Duration
		err error
	}
	var wg sync.WaitGroup
	results := make(chan result, 64)
	for from, names := range running {
		if len(names) == 0 {
			continue
		}
		for to, targets := range running {
			if to == from {
				continue
			}
			for _, target := range targets {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var err error
					for time.Since(start) < bound+time.Minute {
						if _, err = execIn(from, names[0], "ping", "-c5", "-i", "0.2", "-W", "2", ips[target]); err == nil {
							break
						}
						time.Sleep(100 * time.Millisecond)
					}
					results <- result{time.Since(start), err}
				}()
			}
		}
	}
	wg.Wait()
	close(results)
	var d time.Duration
	for r := range results {
		if r.err != nil {
			t.Errorf("a container never reached another: %v", r.err)
		}
		d = max(d, r.d)
	}
	return d
}

// TestFaultsPacketLoss: 10 % and then 30 % of the underlay's packets dropped at random on every host while
// containers start and stop on all three: every container gets an address, no address twice, and every
// container reaches the others within the bound.
func TestFaultsPacketLoss(t *testing.T) {
	RequirePlugin(t)
	wc := NewCluster(t, ClusterOptions{Hosts: 3, Mesh: 3})
	h1 := wc.Host(0)
	h1.MustDocker(t, append(append([]string{"network", "create"}, netArgs...), "--subnet", "10.49.0.0/24", "net1")...)
	for _, h := range wc.Hosts() {
		Eventually(t, time.Minute, func() error {
			if !hasNetwork(h, "net1") {
				return fmt.Errorf("net1 not on %s yet", h.Name)
			}
			return nil
		})
	}
	for _, pct := range []int{10, 30} {
		t.Run(fmt.Sprintf("%dpct", pct), func(t *testing.T) {
			var undo []func()
			for _, h := range wc.Hosts() {
				undo = append(undo, dropUnderlay(t, h, pct))
			}
			running := map[*Host][]string{}
			var failed []string
			var mu sync.Mutex
			var wg sync.WaitGroup
			churnStart := time.Now()
			for i, h := range wc.Hosts() {
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
		})
	}
}
