//go:build linux

package e2e

import (
	"fmt"
	"testing"
	"time"
)

// partitionHealBound: after a partition heals, containers started on both sides during it reach each other.
const partitionHealBound = 60 * time.Second

// TestFaultsPartitionChurn: h3 is cut off from h1 and h2 while both sides start and remove containers; after the
// heal, no address is given twice and the containers started on both sides reach each other. (How a host with no
// address space of its own fares under a partition is TestFaultsPartitionIPAM's concern; here every host has
// started a container before the cut.)
func TestFaultsPartitionChurn(t *testing.T) {
	RequirePlugin(t)
	wc := NewCluster(t, ClusterOptions{Hosts: 3, Mesh: 3})
	h1, h3 := wc.Host(0), wc.Host(2)
	h1.MustDocker(t, append(append([]string{"network", "create"}, netArgs...), "--subnet", "10.55.0.0/22", "net1")...)
	for i, h := range wc.Hosts() {
		Eventually(t, time.Minute, func() error {
			if !hasNetwork(h, "net1") {
				return fmt.Errorf("net1 not on %s yet", h.Name)
			}
			return nil
		})
		h.RunContainer(t, "--network", "net1", "--name", fmt.Sprintf("pre%d", i+1), BusyboxImage, "sleep", "36000")
	}
	if err := h3.CutUnderlay(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h3.RestoreUnderlay() })
	wantPeerState(t, h1, h3.IP.String(), "dead", 2*time.Minute)
	running := map[*Host][]string{}
	var failed []string
	for i, h := range wc.Hosts() {
		kept, f := churn(h, fmt.Sprintf("p-h%d", i+1), 4)
		running[h] = kept
		failed = append(failed, f...)
	}
	if err := h3.RestoreUnderlay(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ips := addresses(t, running)
	d := allReach(t, start, partitionHealBound, running, ips)
	t.Logf("partition of h3 with churn on both sides: %d docker run failed %v; all reach all %s after the heal",
		len(failed), failed, faultFigure(d))
	if len(failed) > 0 {
		t.Errorf("%d docker run failed during the partition", len(failed))
	}
	if d > partitionHealBound {
		t.Errorf("containers reached each other %s after the heal; want within %s", d, partitionHealBound)
	}
	reportFault(t, faultRow{Case: "partition of one host from two while both sides start and remove containers",
		Bound:    "every docker run succeeds, no address twice, all reach all within " + partitionHealBound.String() + " of the heal",
		Measured: fmt.Sprintf("%d runs failed; all reach all %s after the heal", len(failed), faultFigure(d)),
		Pass:     len(failed) == 0 && d <= partitionHealBound})
	for h, names := range running {
		for _, n := range names {
			_, _ = h.Docker("rm", "-f", n)
		}
	}
}
