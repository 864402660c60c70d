//go:build linux

package e2e

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// dockerdRestartBound: after dockerd on a host is restarted with SIGTERM, its --restart always containers are
// back with their addresses and reachable from another host.
const dockerdRestartBound = 90 * time.Second

// serviceCmd is the command of the containers that must come back: unlike a bare sleep as PID 1, it stops at
// SIGTERM, as a service does, so that dockerd's stop takes the time a real one takes.
var serviceCmd = []string{"sh", "-c", `trap "exit 0" TERM; while sleep 1; do :; done`}

// TestFaultsDockerdRestart: dockerd on a host with running --restart always containers is stopped with SIGTERM
// (as systemctl restart docker, an upgrade or a reboot does) and started again, first with one such container on
// the host, then with two: they come back with their addresses and are reachable from another host. A graceful
// stop releases the containers' addresses, then stops the plugin; the started dockerd asks for addresses with no
// preference, and the plugin hands back those it saved as released (ipalloc/handback.go). Each container's
// address is made other than the first free one of its host's space (a container started before it is removed),
// so a plugin that forgot its releases gives it another. Docker 29 names the container in its requests: each
// gets its own. Docker 20.10 names nothing and answers its API only once it has started these containers: the
// two get back their two addresses between them.
func TestFaultsDockerdRestart(t *testing.T) {
	RequirePlugin(t)
	s := &dockerdRestart{twoHostNet: newTwoHostNet(t), addrs: map[string]string{}}
	runSteps(t, []step{
		{"Containers", s.containers},
		{"RestartOne", func(t *testing.T) { s.one = s.restart(t) }},
		{"SecondContainer", func(t *testing.T) { s.service(t, "c3") }},
		{"RestartTwo", func(t *testing.T) { s.two = s.restart(t) }},
		{"Report", s.report},
	}, "Containers", "SecondContainer")
}

// dockerdRestart is the fixture of TestFaultsDockerdRestart: c1 on h1, the client, and on h2 the --restart
// always containers that must come back (c2, then c3 too).
type dockerdRestart struct {
	*twoHostNet
	addrs    map[string]string // the containers that must come back, and their addresses on net1
	one, two restartResult
}

// restartResult is what one restart of dockerd gave.
type restartResult struct {
	d    time.Duration // until all were back and reachable, from dockerd's start
	kept bool          // the addresses came back as the engine allows (see kept)
}

func (s *dockerdRestart) containers(t *testing.T) {
	s.h1.MustDocker(t, append(append([]string{"network", "create"}, netArgs...), "--subnet", "10.54.0.0/24", "net1")...)
	waitNetwork(t, "net1", s.h2)
	runFor(t, s.top, s.h1, "--network", "net1", "--name", "c1", BusyboxImage, "sleep", "36000")
	s.service(t, "c2")
}

// service starts the --restart always container name on h2 after a container that is removed again, so that
// name's address is not the first free one of h2's space, and waits until c1 reaches it.
func (s *dockerdRestart) service(t *testing.T, name string) {
	gap := "gap-" + name
	runFor(t, s.top, s.h2, "--network", "net1", "--name", gap, BusyboxImage, "sleep", "36000")
	runFor(t, s.top, s.h2, append([]string{"--network", "net1", "--name", name, "--restart", "always"}, append([]string{BusyboxImage}, serviceCmd...)...)...)
	s.h2.MustDocker(t, "rm", "-f", gap)
	ip, err := s.h2.ContainerIP(name, "net1")
	if err != nil {
		t.Fatal(err)
	}
	s.addrs[name] = ip
	Eventually(t, time.Minute, func() error { _, err := execIn(s.h1, "c1", "ping", "-c1", "-W1", ip); return err })
	t.Logf("%s on h2 at %s", name, ip)
}

// restart stops h2's dockerd with SIGTERM and starts it again, waits until every container of s.addrs is back
// and reachable from c1, and checks their addresses.
func (s *dockerdRestart) restart(t *testing.T) restartResult {
	if err := s.h2.StopDocker(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := s.h2.StartDocker(); err != nil {
		t.Fatal(err)
	}
	now := map[string]string{}
	d := measure(t, start, dockerdRestartBound+time.Minute, func() error {
		for name := range s.addrs {
			ip, err := s.h2.ContainerIP(name, "net1")
			if err != nil {
				return err
			}
			if _, err := execIn(s.h1, "c1", "ping", "-c1", "-W1", ip); err != nil {
				return err
			}
			now[name] = ip
		}
		return nil
	})
	t.Logf("dockerd on h2 restarted with SIGTERM: %s back and reachable from h1 %s after dockerd started",
		describeAddrs(s.addrs, now), faultFigure(d))
	if d > dockerdRestartBound {
		t.Errorf("back and reachable after %s; want within %s", d, dockerdRestartBound)
	}
	r := restartResult{d: d, kept: kept(t, s.addrs, now)}
	maps.Copy(s.addrs, now)
	return r
}

// kept reports whether the containers came back with their addresses: each its own, or on Docker 20.10 with
// several containers, which it cannot tell apart, the same addresses between them. It fails t if not.
func kept(t *testing.T, was, now map[string]string) bool {
	if Engine() != Engine29 && len(was) > 1 {
		before, after := slices.Sorted(maps.Values(was)), slices.Sorted(maps.Values(now))
		if !slices.Equal(before, after) {
			t.Errorf("the containers came back with %v, had %v", after, before)
			return false
		}
		return true
	}
	ok := true
	for name, ip := range was {
		if now[name] != ip {
			t.Errorf("%s came back with %s, had %s", name, now[name], ip)
			ok = false
		}
	}
	return ok
}

// describeAddrs says, per container in name order, where it is now and where it was.
func describeAddrs(was, now map[string]string) string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(was)) {
		parts = append(parts, fmt.Sprintf("%s at %s (was %s)", name, now[name], was[name]))
	}
	return strings.Join(parts, ", ")
}

func (s *dockerdRestart) report(t *testing.T) {
	reportFaultStep(t, s.top, faultRow{Case: "dockerd restarted (SIGTERM) on a host with --restart always containers",
		Bound: "one container, then two: back with their addresses (each its own; on Docker 20.10 two get their " +
			"two addresses between them), reachable from another host within " + dockerdRestartBound.String(),
		Measured: fmt.Sprintf("back and reachable %s (one) and %s (two) after dockerd started",
			faultFigure(s.one.d), faultFigure(s.two.d)),
		Pass: s.one.kept && s.two.kept && max(s.one.d, s.two.d) <= dockerdRestartBound})
}
