//go:build linux

package e2e

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// Container churn across hosts and the checks after it (an address each, none twice, every container reaching
// the others), shared by the loss and partition scenarios.

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
