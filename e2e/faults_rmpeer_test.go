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
	c := NewCluster(t, ClusterOptions{Hosts: 3, Mesh: 3})
	s := &rmpeerReturn{top: t, c: c, h1: c.Host(0), h2: c.Host(1), h3: c.Host(2)}
	runSteps(t, []step{
		{"OldContainersOnH3", s.oldContainers},
		{"RmpeerAndReuse", s.rmpeerAndReuse},
		{"ReturnReportsTakeover", s.returnReports},
		{"StartsContainersAgain", s.startsAgain},
		{"AddressesAndReport", s.addressesAndReport},
	}, "OldContainersOnH3", "RmpeerAndReuse", "ReturnReportsTakeover")
}

// rmpeerReturn is the fixture of TestFaultsRmpeerReturn.
type rmpeerReturn struct {
	top        *testing.T // the test itself, which owns h3's plugin and reuse1
	c          *Cluster
	h1, h2, h3 *Host
	old3       map[string]string // h3's containers before its removal -> address on net1
	problem    string            // h3's report of the takeover
	d          time.Duration     // how long after its plugin started h3 reported it
	started    int               // of h3's containers started after its return
}

func (s *rmpeerReturn) oldContainers(t *testing.T) {
	h1, h2, h3 := s.h1, s.h2, s.h3
	h1.MustDocker(t, append(append([]string{"network", "create"}, netArgs...), "--subnet", "10.57.0.0/24", "net1")...)
	waitNetwork(t, "net1", h2, h3)
	for i := range 2 {
		runFor(t, s.top, h3, "--network", "net1", "--name", fmt.Sprintf("old3-%d", i), BusyboxImage, "sleep", "36000")
	}
	var err error
	if s.old3, err = net1Addresses(h3); err != nil {
		t.Fatal(err)
	}
}

// rmpeerAndReuse: h3's plugin stops, h1 removes it with rmpeer and takes over its space, and containers start on
// h1 and h2, one at the address of old3-0.
func (s *rmpeerReturn) rmpeerAndReuse(t *testing.T) {
	h1, h2, h3 := s.h1, s.h2, s.h3
	h3.MustDocker(t, "plugin", "disable", "-f", PluginName)
	s.top.Cleanup(func() { _, _ = h3.Docker("plugin", "enable", PluginName) })
	wantPeerState(t, h1, h3.IP.String(), "dead", 2*time.Minute)
	if out, err := h1.WeavegoCLI("rmpeer", s.c.Peer[h3]); err != nil {
		t.Fatalf("rmpeer %s on h1: %v %s", s.c.Peer[h3], err, out)
	}
	// h1 took over h3's space: the address of old3-0 is free there now.
	Eventually(t, time.Minute, func() error {
		_, err := h1.Docker("run", "-d", "--network", "net1", "--name", "reuse1", "--ip", s.old3["old3-0"], BusyboxImage, "sleep", "36000")
		if err != nil {
			_, _ = h1.Docker("rm", "-f", "reuse1")
		}
		return err
	})
	s.top.Cleanup(func() { _, _ = h1.Docker("rm", "-f", "reuse1") })
	for i, h := range []*Host{h1, h2} {
		for j := range 3 {
			runFor(t, s.top, h, "--network", "net1", "--name", fmt.Sprintf("new%d-%d", i+1, j), BusyboxImage, "sleep", "36000")
		}
	}
}

func (s *rmpeerReturn) returnReports(t *testing.T) {
	start := time.Now()
	s.h3.MustDocker(t, "plugin", "enable", PluginName)
	s.d = measure(t, start, rmpeerReportBound+time.Minute, func() error {
		var err error
		s.problem, err = takeoverProblem(s.h3, s.old3["old3-0"])
		return err
	})
	t.Logf("h3 back with its old state reports the takeover %s after its plugin started: %s", faultFigure(s.d), s.problem)
}

// startsAgain: once back, h3 asks for space like any host and a holder hands it some that was not taken (the
// removal is over; ipalloc/removal.go).
func (s *rmpeerReturn) startsAgain(t *testing.T) {
	h3 := s.h3
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
		s.started++
	}
	t.Logf("h3 started %d of 3 containers in %s after its return", s.started, faultFigure(time.Since(restart)))
}

// duplicates returns the addresses on net1 given twice: those the takeover caveat allows (an old container of
// h3's that h3 reported) and the others. It fails t when a host's addresses cannot be read.
func (s *rmpeerReturn) duplicates(t *testing.T) (owner map[string]string, dups, allowed []string) {
	owner = map[string]string{}
	for _, h := range s.c.Hosts() {
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
			if (s.old3[name] == ip || strings.HasPrefix(other, "h3/old3-")) && mentionsIP(s.problem, ip) {
				allowed = append(allowed, fmt.Sprintf("%s: %s and %s", ip, other, who))
				continue
			}
			dups = append(dups, fmt.Sprintf("%s: %s and %s", ip, other, who))
		}
	}
	return owner, dups, allowed
}

func (s *rmpeerReturn) addressesAndReport(t *testing.T) {
	owner, dups, allowed := s.duplicates(t)
	t.Logf("addresses on net1 after h3's return: %v; collisions of h3's old containers: %v", owner, allowed)
	taker := s.c.Peer[s.h1]
	named := strings.Contains(s.problem, taker) && mentionsIP(s.problem, s.old3["old3-0"])
	if !named {
		t.Errorf("h3's problem does not name the taker %s and the colliding lease %s: %s", taker, s.old3["old3-0"], s.problem)
	}
	if len(dups) > 0 {
		t.Errorf("addresses given twice beyond h3's reported old leases: %v", dups)
	}
	if s.d > rmpeerReportBound {
		t.Errorf("h3 reported the takeover after %s; want within %s", s.d, rmpeerReportBound)
	}
	reportFaultStep(t, s.top, faultRow{Case: "rmpeer of a host that comes back with its old state",
		Bound: "the returning host reports the takeover (taker and colliding leases) within " + rmpeerReportBound.String() +
			"; no new address given twice; it starts new containers again",
		Measured: fmt.Sprintf("reported %s after its plugin started; %d new addresses given twice; %d old leases collide, as reported; "+
			"it started %d of 3 new containers", faultFigure(s.d), len(dups), len(allowed), s.started),
		Pass: named && len(dups) == 0 && s.d <= rmpeerReportBound && s.started == 3})
}
