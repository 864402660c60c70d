//go:build linux

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Bounds of the deletion cases.
const (
	// keptBackBound: a network removed on an idle host while another host uses it is back there within 1 s;
	// the machine is shared by several test runs, hence the slack in what the test allows.
	keptBackBound   = time.Second
	keptBackAllowed = 3 * time.Second
	// removedEverywhereBound: a removal with no container anywhere reaches every host (gossip plus one
	// Docker pass).
	removedEverywhereBound = 10 * time.Second
	// faultsTombstoneTTL is the short TOMBSTONE_TTL of the deletion cluster.
	faultsTombstoneTTL = 10 * time.Second
	// staleRemovalBound: a host back after more than TOMBSTONE_TTL removes what was removed meanwhile within
	// its settling time (15 s) plus a Docker pass and the plugin's start.
	staleRemovalBound = 60 * time.Second
)

// TestFaultsDelete: docker network prune and rm on an idle host while another host has containers on the network
// (back within a second, status says why), removal with no containers anywhere, and a host that returns after the
// tombstone lifetime.
func TestFaultsDelete(t *testing.T) {
	RequirePlugin(t)
	c := NewCluster(t, ClusterOptions{Hosts: 3, Mesh: 3, Env: map[string]string{"TOMBSTONE_TTL": faultsTombstoneTTL.String()}})
	s := &faultsDelete{top: t, c: c, h1: c.Host(0), h2: c.Host(1), h3: c.Host(2)}
	runSteps(t, []step{
		{"InUseOnH1", s.inUseOnH1},
		{"RemoveOnIdleHosts", s.removeOnIdleHosts},
		{"RemoveWithNoContainer", s.removeWithNoContainer},
		{"StaleHostReturns", s.staleHostReturns},
	}, "InUseOnH1", "RemoveOnIdleHosts", "RemoveWithNoContainer")
}

// faultsDelete is the fixture of TestFaultsDelete: net1 with c1 on h1, and h2 and h3 idle.
type faultsDelete struct {
	top        *testing.T // the test itself, which owns c1 and c3
	c          *Cluster
	h1, h2, h3 *Host
}

func (s *faultsDelete) inUseOnH1(t *testing.T) {
	h1, h2, h3 := s.h1, s.h2, s.h3
	h1.MustDocker(t, append(append([]string{"network", "create"}, netArgs...), "--subnet", "10.47.0.0/24", "net1")...)
	runFor(t, s.top, h1, "--network", "net1", "--name", "c1", BusyboxImage, "sleep", "3600")
	for _, h := range []*Host{h2, h3} {
		waitNetwork(t, "net1", h)
	}
	// h2 and h3 must know c1's endpoint before they can tell net1 is in use.
	Eventually(t, time.Minute, func() error {
		for _, h := range []*Host{h2, h3} {
			st, err := h.Status()
			if err != nil {
				return err
			}
			for _, n := range st.Cluster.Networks {
				if n.Name == "net1" && n.Endpoints == 1 {
					goto next
				}
			}
			return fmt.Errorf("%s does not see c1 on net1 yet", h.Name)
		next:
		}
		return nil
	})
}

// removeOnIdleHosts: docker network prune on h2 and rm on h3 while c1 runs on h1; net1 comes back on each.
func (s *faultsDelete) removeOnIdleHosts(t *testing.T) {
	worst := max(s.removeOnIdle(t, s.h2, "network", "prune", "-f"), s.removeOnIdle(t, s.h3, "network", "rm", "net1"))
	// The network still works across hosts: a container started on h3 now reaches c1.
	runFor(t, s.top, s.h3, "--network", "net1", "--name", "c3", BusyboxImage, "sleep", "3600")
	ip1, err := s.h1.ContainerIP("c1", "net1")
	if err != nil {
		t.Fatal(err)
	}
	Eventually(t, time.Minute, func() error { _, err := execIn(s.h3, "c3", "ping", "-c1", "-W1", ip1); return err })
	reportFaultStep(t, s.top, faultRow{Case: "delete: `docker network prune` / `rm` on an idle host while another uses it",
		Bound:    "back on that host within " + keptBackBound.String() + ", nothing removed elsewhere, status says why",
		Measured: "back after " + faultFigure(worst) + " (worst of prune and rm)", Pass: worst <= keptBackAllowed})
}

// removeOnIdle runs the docker command cmd, which removes net1, on the idle host h and returns how long net1
// took to come back there; nothing may be removed elsewhere and h's status must say why net1 stays.
func (s *faultsDelete) removeOnIdle(t *testing.T, h *Host, cmd ...string) time.Duration {
	start := time.Now()
	h.MustDocker(t, cmd...)
	d := measure(t, start, time.Minute, func() error {
		if !hasNetwork(h, "net1") {
			return fmt.Errorf("net1 not back on %s", h.Name)
		}
		return nil
	})
	t.Logf("docker %s on idle %s: net1 back there after %s", strings.Join(cmd, " "), h.Name, faultFigure(d))
	if d > keptBackAllowed {
		t.Errorf("net1 back on %s after %s; want within %s", h.Name, d, keptBackBound)
	}
	for _, o := range []*Host{s.h1, s.h2, s.h3} {
		if o != h && !hasNetwork(o, "net1") {
			t.Errorf("docker %s on %s removed net1 from %s", strings.Join(cmd, " "), h.Name, o.Name)
		}
	}
	user := s.c.Peer[s.h1]
	why, err := keptReason(h, "net1")
	if err != nil || !strings.Contains(why, "in use on hosts "+user) {
		t.Errorf("status of %s says %q (%v); want why net1 stays: in use on hosts %s", h.Name, why, err, user)
	}
	return d
}

// removeWithNoContainer: with no container anywhere, a removal removes net1 everywhere.
func (s *faultsDelete) removeWithNoContainer(t *testing.T) {
	s.h1.MustDocker(t, "rm", "-f", "c1")
	s.h3.MustDocker(t, "rm", "-f", "c3")
	Eventually(t, time.Minute, func() error { return noEndpoints(s.h2, "net1") })
	start := time.Now()
	s.h2.MustDocker(t, "network", "rm", "net1")
	d := measure(t, start, time.Minute, func() error {
		for _, h := range []*Host{s.h1, s.h3} {
			if hasNetwork(h, "net1") {
				return fmt.Errorf("net1 still on %s", h.Name)
			}
		}
		return nil
	})
	t.Logf("docker network rm with no container anywhere: net1 gone from every host after %s", faultFigure(d))
	time.Sleep(2 * faultsTombstoneTTL) // past every tombstone's lifetime: nothing brings it back
	for _, h := range []*Host{s.h1, s.h2, s.h3} {
		if hasNetwork(h, "net1") {
			t.Errorf("net1 came back on %s after the tombstone lifetime", h.Name)
		}
	}
	reportFaultStep(t, s.top, faultRow{Case: "delete: `docker network rm` with no container anywhere",
		Bound:    "gone from every host within " + removedEverywhereBound.String() + ", not back after 2 × TOMBSTONE_TTL",
		Measured: "gone everywhere after " + faultFigure(d), Pass: d <= removedEverywhereBound})
}

// staleHostReturns: away (dockerd and plugin stopped) for longer than the tombstone lifetime while net2 is
// removed, h3 comes back and removes net2 instead of spreading it again.
func (s *faultsDelete) staleHostReturns(t *testing.T) {
	h1, h := s.h1, s.h3
	h1.MustDocker(t, append(append([]string{"network", "create"}, netArgs...), "--subnet", "10.48.0.0/24", "net2")...)
	waitNetwork(t, "net2", h)
	if err := h.StopDocker(); err != nil {
		t.Fatal(err)
	}
	h1.MustDocker(t, "network", "rm", "net2")
	time.Sleep(3 * faultsTombstoneTTL) // every other host reaped net2's tombstone and forgot it
	if err := h.StartDocker(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	d := measure(t, start, 2*time.Minute, func() error {
		if hasNetwork(h, "net2") {
			return fmt.Errorf("net2 still on %s", h.Name)
		}
		return nil
	})
	t.Logf("%s back after 3 × TOMBSTONE_TTL away: net2 (removed meanwhile) gone there %s after dockerd started",
		h.Name, faultFigure(d))
	time.Sleep(faultsTombstoneTTL)
	if hasNetwork(h1, "net2") {
		t.Errorf("net2 came back on h1 after %s returned", h.Name)
	}
	reportFaultStep(t, s.top, faultRow{Case: "delete: a host returns after longer than TOMBSTONE_TTL",
		Bound:    "what was removed meanwhile is removed there within " + staleRemovalBound.String() + " and nowhere recreated",
		Measured: "removed " + faultFigure(d) + " after dockerd started", Pass: d <= staleRemovalBound})
}
