//go:build linux

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// harness is the fixture of TestHarness: two hosts without the plugin.
type harness struct {
	c      *Cluster
	h1, h2 *Host
}

// TestHarness checks the harness itself, without the weavego plugin: two hosts on the underlay, containers on
// Docker's default bridge, published ports, cutting and restoring a link, restarting a daemon, and the plugin
// life cycle with a stub plugin built here (never installed outside the test hosts).
func TestHarness(t *testing.T) {
	c := NewCluster(t, ClusterOptions{Hosts: 2})
	s := &harness{c: c, h1: c.Host(0), h2: c.Host(1)}

	runSteps(t, []step{
		{"Underlay", s.underlay},
		{"PublishedPortAcrossHosts", s.publishedPortAcrossHosts},
		{"CutAndRestoreUnderlay", s.cutAndRestoreUnderlay},
		{"RestartDocker", s.restartDocker},
		{"StubPlugin", s.stubPluginLifeCycle},
	})
}

func (s *harness) underlay(t *testing.T) {
	if _, err := s.h1.Exec("busybox", "ping", "-c", "1", "-W", "5", s.h2.IP.String()); err != nil {
		t.Fatalf("h1 cannot reach h2 on the underlay: %v", err)
	}
	routes, err := s.h1.Exec("ip", "route", "show", "default")
	if err != nil || strings.TrimSpace(routes) != "" {
		t.Fatalf("h1 should have no default route, got %q (%v)", routes, err)
	}
}

func (s *harness) publishedPortAcrossHosts(t *testing.T) {
	s.h1.RunContainer(t, "--name", "smoke", "-e", "NAME=smoke", "-p", "18080:8080", HTTPImage)
	ip, err := s.h1.ContainerIP("smoke", "bridge")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("Hi! I'm smoke service and my container's IP is %s", ip)
	url := fmt.Sprintf("http://%s:18080/", s.h1.IP)
	Eventually(t, 30*time.Second, func() error {
		out, err := s.c.UnderlayExec(Wget(url)...)
		if err != nil || !strings.Contains(out, want) {
			return fmt.Errorf("from underlay: %q, %v; want %q", out, err, want)
		}
		return nil
	})
	out, err := s.h2.Docker(append([]string{"run", "--rm", BusyboxImage}, Wget(url)...)...)
	if err != nil || !strings.Contains(out, want) {
		t.Fatalf("from a container on h2: %q, %v", out, err)
	}
}

func (s *harness) cutAndRestoreUnderlay(t *testing.T) {
	if err := s.h2.CutUnderlay(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.h1.Exec("busybox", "ping", "-c", "1", "-W", "2", s.h2.IP.String()); err == nil {
		t.Fatal("h2 still reachable after CutUnderlay")
	}
	if err := s.h2.RestoreUnderlay(); err != nil {
		t.Fatal(err)
	}
	Eventually(t, 30*time.Second, func() error {
		_, err := s.h1.Exec("busybox", "ping", "-c", "1", "-W", "2", s.h2.IP.String())
		return err
	})
}

func (s *harness) restartDocker(t *testing.T) {
	start := time.Now()
	if err := s.h2.StopDocker(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.h2.Docker("info"); err == nil {
		t.Fatal("docker info answers after StopDocker")
	}
	if err := s.h2.StartDocker(); err != nil {
		t.Fatal(err)
	}
	t.Logf("dockerd restarted in %s", time.Since(start).Round(100*time.Millisecond))
	s.h2.MustDocker(t, "run", "--rm", BusyboxImage, "true")
}

func (s *harness) stubPluginLifeCycle(t *testing.T) {
	dir := stubPlugin(t)
	if err := s.h1.installPluginFrom(dir, map[string]string{"LOG_LEVEL": "info"}); err != nil {
		t.Fatal(err)
	}
	sock, err := s.h1.PluginSocket()
	if err != nil {
		t.Fatal(err)
	}
	Eventually(t, 30*time.Second, func() error {
		code, body, err := PostPlugin(sock, "/NetworkDriver.GetCapabilities", "{}")
		if err != nil || code != 200 || !strings.Contains(string(body), "Hi! I'm stub service") {
			return fmt.Errorf("stub answered %d %q, %v", code, body, err)
		}
		return nil
	})
	if logs := strings.Join(s.h1.PluginLogs(), "\n"); !strings.Contains(logs, "testsrv stub listening") {
		t.Fatalf("plugin output not found in the daemon log; plugin lines:\n%s", logs)
	}
	s.h1.MustDocker(t, "plugin", "disable", Driver)
	s.h1.MustDocker(t, "plugin", "enable", Driver)
}
