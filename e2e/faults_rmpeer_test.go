//go:build linux

package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// rmpeerReportBound: after a host removed with rmpeer comes back with its old state, it reports that its space
// was taken over.
const rmpeerReportBound = time.Minute

// net1Addresses returns the address on net1 of every container on h, by name.
func net1Addresses(h *Host) (map[string]string, error) {
	out, err := h.Docker("ps", "--format", "{{.Names}}")
	if err != nil {
		return nil, err
	}
	ips := map[string]string{}
	for _, name := range strings.Fields(out) {
		if ip, err := h.ContainerIP(name, "net1"); err == nil {
			ips[name] = ip
		}
	}
	return ips, nil
}

// mentionsIP tells whether text names the address ip (not merely a longer one that starts with it).
func mentionsIP(text, ip string) bool {
	return regexp.MustCompile(`(^|[^0-9.])` + regexp.QuoteMeta(ip) + `($|[^0-9])`).MatchString(text)
}

// takeoverProblem returns h's IPAM problems that say its space was taken over, joined, or an error until they
// name the lease ip.
func takeoverProblem(h *Host, ip string) (string, error) {
	st, err := h.Status()
	if err != nil {
		return "", err
	}
	var taken []string
	for _, p := range st.IPAM.Problems {
		if strings.Contains(p, "taken over") {
			taken = append(taken, p)
		}
	}
	if text := strings.Join(taken, " | "); mentionsIP(text, ip) {
		return text, nil
	}
	return "", fmt.Errorf("%s reports no takeover of its lease %s; problems: %q", h.Name, ip, st.IPAM.Problems)
}

// TestFaultsRmpeerReturn: h3, with containers on net1, stops its plugin; h1 removes it with rmpeer and takes
// over its space; containers start on h1 and h2, one of them at the address of one of h3's (so that the space
// is really reused); h3 comes back with its old state. h3 reports the takeover, naming the taker and its leases
// that may collide, leases no more from the taken space, gets space again and starts new containers, and no
// address is given twice except the collision rmpeer's caveat allows and h3 reports.
func TestFaultsRmpeerReturn(t *testing.T) {
	RequirePlugin(t)
	wc := NewCluster(t, ClusterOptions{Hosts: 3, Mesh: 3})
	h1, h2, h3 := wc.Host(0), wc.Host(1), wc.Host(2)
	h1.MustDocker(t, append(append([]string{"network", "create"}, netArgs...), "--subnet", "10.57.0.0/24", "net1")...)
	Eventually(t, time.Minute, func() error {
		if !hasNetwork(h3, "net1") || !hasNetwork(h2, "net1") {
			return fmt.Errorf("net1 not on h2 and h3 yet")
		}
		return nil
	})
	for i := range 2 {
		h3.RunContainer(t, "--network", "net1", "--name", fmt.Sprintf("old3-%d", i), BusyboxImage, "sleep", "36000")
	}
	old3, err := net1Addresses(h3)
	if err != nil {
		t.Fatal(err)
	}
	h3.MustDocker(t, "plugin", "disable", "-f", PluginName)
	t.Cleanup(func() { _, _ = h3.Docker("plugin", "enable", PluginName) })
	wantPeerState(t, h1, h3.IP.String(), "dead", 2*time.Minute)
	if out, err := h1.WeavegoCLI("rmpeer", wc.Peer[h3]); err != nil {
		t.Fatalf("rmpeer %s on h1: %v %s", wc.Peer[h3], err, out)
	}
	// h1 took over h3's space: the address of old3-0 is free there now.
	Eventually(t, time.Minute, func() error {
		_, err := h1.Docker("run", "-d", "--network", "net1", "--name", "reuse1", "--ip", old3["old3-0"], BusyboxImage, "sleep", "36000")
		if err != nil {
			_, _ = h1.Docker("rm", "-f", "reuse1")
		}
		return err
	})
	t.Cleanup(func() { _, _ = h1.Docker("rm", "-f", "reuse1") })
	for i, h := range []*Host{h1, h2} {
		for j := range 3 {
			h.RunContainer(t, "--network", "net1", "--name", fmt.Sprintf("new%d-%d", i+1, j), BusyboxImage, "sleep", "36000")
		}
	}

	start := time.Now()
	h3.MustDocker(t, "plugin", "enable", PluginName)
	var problem string
	d := measure(t, start, rmpeerReportBound+time.Minute, func() error {
		var err error
		problem, err = takeoverProblem(h3, old3["old3-0"])
		return err
	})
	t.Logf("h3 back with its old state reports the takeover %s after its plugin started: %s", faultFigure(d), problem)
	// h3 starts containers again: once back, it asks for space like any host and a holder hands it some that
	// was not taken (the removal is over; ipalloc/removal.go).
	started := 0
	restart := time.Now()
	for j := range 3 {
		name := fmt.Sprintf("after3-%d", j)
		if err := Poll(time.Minute, func() error {
			_, err := h3.Docker("run", "-d", "--network", "net1", "--name", name, BusyboxImage, "sleep", "36000")
			if err != nil {
				_, _ = h3.Docker("rm", "-f", name)
			}
			return err
		}); err != nil {
			t.Errorf("h3 could not start %s after its return: %v", name, err)
			continue
		}
		started++
	}
	t.Logf("h3 started %d of 3 containers in %s after its return", started, faultFigure(time.Since(restart)))

	owner := map[string]string{}
	var dups, allowed []string
	for _, h := range wc.Hosts() {
		ips, err := net1Addresses(h)
		if err != nil {
			t.Fatal(err)
		}
		for name, ip := range ips {
			who := h.Name + "/" + name
			other, dup := owner[ip]
			owner[ip] = who
			if !dup {
				continue
			}
			if (old3[name] == ip || strings.HasPrefix(other, "h3/old3-")) && mentionsIP(problem, ip) {
				allowed = append(allowed, fmt.Sprintf("%s: %s and %s", ip, other, who))
				continue
			}
			dups = append(dups, fmt.Sprintf("%s: %s and %s", ip, other, who))
		}
	}
	t.Logf("addresses on net1 after h3's return: %v; collisions of h3's old containers: %v", owner, allowed)
	named := strings.Contains(problem, wc.Peer[h1]) && mentionsIP(problem, old3["old3-0"])
	if !named {
		t.Errorf("h3's problem does not name the taker %s and the colliding lease %s: %s", wc.Peer[h1], old3["old3-0"], problem)
	}
	if len(dups) > 0 {
		t.Errorf("addresses given twice beyond h3's reported old leases: %v", dups)
	}
	if d > rmpeerReportBound {
		t.Errorf("h3 reported the takeover after %s; want within %s", d, rmpeerReportBound)
	}
	reportFault(t, faultRow{Case: "rmpeer of a host that comes back with its old state",
		Bound: "the returning host reports the takeover (taker and colliding leases) within " + rmpeerReportBound.String() +
			"; no new address given twice; it starts new containers again",
		Measured: fmt.Sprintf("reported %s after its plugin started; %d new addresses given twice; %d old leases collide, as reported; "+
			"it started %d of 3 new containers", faultFigure(d), len(dups), len(allowed), started),
		Pass: named && len(dups) == 0 && d <= rmpeerReportBound && started == 3})
}
