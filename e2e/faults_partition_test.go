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
	c := NewCluster(t, ClusterOptions{Hosts: 3, Mesh: 3})
	s := &partitionChurn{top: t, c: c, h3: c.Host(2)}
	runSteps(t, []step{
		{"ContainersEverywhere", s.containersEverywhere},
		{"ChurnWhileCut", s.churnWhileCut},
		{"HealAllReach", s.healAllReach},
	}, "ContainersEverywhere", "ChurnWhileCut")
}

// partitionChurn is the fixture of TestFaultsPartitionChurn: h3 is the host cut off.
type partitionChurn struct {
	top     *testing.T // the test itself, which owns the pre containers and h3's cut
	c       *Cluster
	h3      *Host
	running map[*Host][]string // containers the churn left on each host
	failed  []string           // docker runs that failed during the partition
}

func (s *partitionChurn) containersEverywhere(t *testing.T) {
	s.c.Host(0).MustDocker(t, append(append([]string{"network", "create"}, netArgs...), "--subnet", "10.55.0.0/22", "net1")...)
	for i, h := range s.c.Hosts() {
		waitNetwork(t, "net1", h)
		runFor(t, s.top, h, "--network", "net1", "--name", fmt.Sprintf("pre%d", i+1), BusyboxImage, "sleep", "36000")
	}
}

func (s *partitionChurn) churnWhileCut(t *testing.T) {
	if err := s.h3.CutUnderlay(); err != nil {
		t.Fatal(err)
	}
	s.top.Cleanup(func() { _ = s.h3.RestoreUnderlay() })
	wantPeerState(t, s.c.Host(0), s.h3.IP.String(), "dead", 2*time.Minute)
	s.running = map[*Host][]string{}
	for i, h := range s.c.Hosts() {
		kept, f := churn(h, fmt.Sprintf("p-h%d", i+1), 4)
		s.running[h] = kept
		s.failed = append(s.failed, f...)
	}
}

func (s *partitionChurn) healAllReach(t *testing.T) {
	if err := s.h3.RestoreUnderlay(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ips := addresses(t, s.running)
	d := allReach(t, start, partitionHealBound, s.running, ips)
	t.Logf("partition of h3 with churn on both sides: %d docker run failed %v; all reach all %s after the heal",
		len(s.failed), s.failed, faultFigure(d))
	if len(s.failed) > 0 {
		t.Errorf("%d docker run failed during the partition", len(s.failed))
	}
	if d > partitionHealBound {
		t.Errorf("containers reached each other %s after the heal; want within %s", d, partitionHealBound)
	}
	reportFaultStep(t, s.top, faultRow{Case: "partition of one host from two while both sides start and remove containers",
		Bound:    "every docker run succeeds, no address twice, all reach all within " + partitionHealBound.String() + " of the heal",
		Measured: fmt.Sprintf("%d runs failed; all reach all %s after the heal", len(s.failed), faultFigure(d)),
		Pass:     len(s.failed) == 0 && d <= partitionHealBound})
	for h, names := range s.running {
		for _, n := range names {
			_, _ = h.Docker("rm", "-f", n)
		}
	}
}
