//go:build linux

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func (s *multiHost) hostFailure(t *testing.T) {
	s.runService(t, s.h2, "svc5")
	url := fmt.Sprintf("http://%s:8080/", s.ip["svc5"])
	Eventually(t, 90*time.Second, func() error { return fetch(s.h3, "client", url, hello("svc5", s.ip["svc5"])) })
	where := map[string]*Host{"svc5": s.h2}
	s.wantFDB(t, s.h1, where, 30*time.Second)
	s.wantFDB(t, s.h3, where, 30*time.Second)

	start := time.Now()
	if err := s.h2.CutUnderlay(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.h2.RestoreUnderlay() })
	for _, h := range []*Host{s.h1, s.h3} {
		d := measure(t, start, 2*time.Minute, func() error { return s.noFDB(h, "svc5") })
		t.Logf("h2 cut off: its endpoint svc5 left the FDB of %s after %s", h.Name, d.Round(time.Millisecond))
		if d > failureBound {
			t.Errorf("%s took %s to drop the endpoints of the unreachable h2; want under %s", h.Name, d, failureBound)
		}
	}
	out := wantPeerState(t, s.h1, s.h2.IP.String(), "dead", time.Minute)
	t.Logf("h2 dead on h1 after %s; weavego status on h1:\n%s", time.Since(start).Round(time.Millisecond), out)
	// The others are untouched.
	s.wantFDB(t, s.h3, map[string]*Host{"svc1": s.h1}, 5*time.Second)

	start = time.Now()
	if err := s.h2.RestoreUnderlay(); err != nil {
		t.Fatal(err)
	}
	d := measure(t, start, 2*time.Minute, func() error {
		st, err := s.h1.Status()
		if err != nil {
			return err
		}
		if state := st.peerState(s.h2.IP.String()); state != "alive" {
			return fmt.Errorf("h1 sees h2 as %q", state)
		}
		return nil
	})
	t.Logf("h2 alive again on h1 %s after its link came back", d.Round(time.Millisecond))
	s.wantFDB(t, s.h1, where, time.Minute)
	s.wantFDB(t, s.h3, where, time.Minute)
	t.Logf("svc5's FDB entries back on h1 and h3 %s after the link came back", time.Since(start).Round(time.Millisecond))
	Eventually(t, time.Minute, func() error { return fetch(s.h3, "client", url, hello("svc5", s.ip["svc5"])) })
	t.Logf("HTTP from h3 to svc5 on h2 works again %s after the link came back", time.Since(start).Round(time.Millisecond))
}

func (s *multiHost) isolation(t *testing.T) {
	s.h1.CreateNetwork(t, "net2", netArgs...)
	Eventually(t, 2*time.Minute, func() error { _, err := s.h3.NetworkView("net2"); return err })
	s.h1.RunContainer(t, "--name", "iso1", "--network", "net2", "-e", "NAME=iso1", HTTPImage)
	s.h3.RunContainer(t, "--name", "iso3", "--network", "net2", BusyboxImage, "sleep", "3600")
	iso1, err := s.h1.ContainerIP("iso1", "net2")
	if err != nil {
		t.Fatal(err)
	}
	// Control: net2 itself works across hosts, and the probe sees it, so the failures below are isolation, not
	// a dead network or a broken probe.
	Eventually(t, 90*time.Second, func() error {
		return fetch(s.h3, "iso3", fmt.Sprintf("http://%s:8080/", iso1), hello("iso1", iso1))
	})
	if ok, _ := reaches(s.h3, "iso3", iso1); !ok {
		t.Fatalf("probe from iso3 does not reach iso1 on the same network")
	}
	unreachable(t, s.h1, "iso1", s.ip["svc1"], "svc1 on net1, same host")
	unreachable(t, s.h3, "iso3", s.ip["svc1"], "svc1 on net1, on h1")
	if ip := s.ip["svc5"]; ip != "" {
		unreachable(t, s.h3, "iso3", ip, "svc5 on net1, on h2")
	}
	unreachable(t, s.h3, "client", iso1, "iso1 on net2, on h1")
}

func (s *multiHost) pluginRestart(t *testing.T) {
	old, err := s.h1.KillPlugin()
	if err != nil {
		t.Fatal(err)
	}
	d := waitPluginBack(t, s.h1, old, 3*time.Minute)
	t.Logf("plugin on h1 (pid %d) killed with SIGKILL; the daemon restarted it in %s", old, d.Round(time.Millisecond))
	// A container started at once, while Docker may still be registering the restarted plugin's drivers
	// (it builds a new driver object about half a second after the start), starts and is reachable.
	s.runService(t, s.h1, "svc6")
	start := time.Now()
	for _, name := range []string{"svc1", "svc2"} {
		url := fmt.Sprintf("http://%s:8080/", s.ip[name])
		Eventually(t, time.Minute, func() error { return fetch(s.h3, "client", url, hello(name, s.ip[name])) })
	}
	t.Logf("svc1 and svc2 on h1 answer h3 %s after the restart", time.Since(start).Round(time.Millisecond))
	// The restarted plugin knows its endpoints and the others still see h1.
	Eventually(t, time.Minute, func() error {
		for _, h := range []*Host{s.h2, s.h3} {
			st, err := h.Status()
			if err != nil {
				return err
			}
			if state := st.peerState(s.h1.IP.String()); state != "alive" {
				return fmt.Errorf("%s sees h1 as %q after its plugin restarted", h.Name, state)
			}
		}
		return nil
	})
	s.wantFDB(t, s.h3, map[string]*Host{"svc1": s.h1, "svc2": s.h1}, 30*time.Second)
	Eventually(t, 90*time.Second, func() error {
		return fetch(s.h3, "client", fmt.Sprintf("http://%s:8080/", s.ip["svc6"]), hello("svc6", s.ip["svc6"]))
	})
}

func (s *multiHost) networkRemove(t *testing.T) {
	if s.ip["svc5"] == "" {
		t.Skip("svc5 did not start on h2")
	}
	for _, c := range []struct {
		h     *Host
		names []string
	}{{s.h1, []string{"svc1", "svc2", "svc6"}}, {s.h2, []string{"svc3"}}, {s.h3, []string{"client"}}} {
		_, _ = c.h.Docker(append([]string{"rm", "-f"}, c.names...)...)
	}
	// h2 still has svc5 attached: a network in use anywhere stays, so h1's removal removes nothing
	// cluster-wide and net1 comes back on h1; h1's status says why. h1 first learns that svc5 is the last
	// endpoint left, so that the reason names h2 alone.
	Eventually(t, 30*time.Second, func() error {
		st, err := s.h1.Status()
		if err != nil {
			return err
		}
		for _, n := range st.Cluster.Networks {
			if n.Name == "net1" && n.Endpoints != 1 {
				return fmt.Errorf("h1 sees %d endpoints on net1, want svc5 alone", n.Endpoints)
			}
		}
		return nil
	})
	start := time.Now()
	s.h1.MustDocker(t, "network", "rm", "net1")
	d := measure(t, start, time.Minute, func() error {
		if err := gone(s.h1, "net1"); err == nil {
			return fmt.Errorf("net1 not back on h1")
		}
		return nil
	})
	t.Logf("docker network rm net1 on h1 while svc5 runs on h2: net1 back on h1 after %s", d.Round(time.Millisecond))
	if why, err := keptReason(s.h1, "net1"); err != nil || !strings.Contains(why, "in use on hosts "+s.wc.Peer[s.h2]) {
		t.Errorf("status of h1 says %q (%v); want why net1 stays", why, err)
	}
	for _, h := range []*Host{s.h2, s.h3} {
		if err := gone(h, "net1"); err == nil {
			t.Errorf("net1 removed from %s although svc5 uses it on h2", h.Name)
		}
	}
	if err := fetch(s.h2, "svc5", fmt.Sprintf("http://%s:8080/", s.ip["svc5"]), "svc5"); err != nil {
		t.Errorf("svc5 on the kept network: %v", err)
	}
	// svc5 gone, the removal removes net1 on every host.
	s.h2.MustDocker(t, "rm", "-f", "svc5")
	Eventually(t, time.Minute, func() error { return noEndpoints(s.h1, "net1") })
	start = time.Now()
	s.h1.MustDocker(t, "network", "rm", "net1")
	for _, h := range []*Host{s.h2, s.h3} {
		d = measure(t, start, 2*time.Minute, func() error { return gone(h, "net1") })
		t.Logf("docker network rm net1 on h1, no container anywhere: removed on %s after %s", h.Name, d.Round(time.Millisecond))
	}
	// The definition is gone everywhere, and nothing brings net1 back.
	Eventually(t, time.Minute, func() error {
		for _, h := range s.wc.Hosts() {
			st, err := h.Status()
			if err != nil {
				return err
			}
			for _, n := range st.Cluster.Networks {
				if n.Name == "net1" {
					return fmt.Errorf("%s still lists net1 in its status", h.Name)
				}
			}
			if err := gone(h, "net1"); err != nil {
				return err
			}
		}
		return nil
	})
}
