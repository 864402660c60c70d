//go:build linux

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestHarness checks the harness itself, without the weavego plugin: two hosts on the underlay, containers on
// Docker's default bridge, published ports, cutting and restoring a link, restarting a daemon, and the plugin
// life cycle with a stub plugin built here (never installed outside the test hosts).
func TestHarness(t *testing.T) {
	c := NewCluster(t, ClusterOptions{Hosts: 2})
	h1, h2 := c.Host(0), c.Host(1)

	t.Run("Underlay", func(t *testing.T) {
		if _, err := h1.Exec("busybox", "ping", "-c", "1", "-W", "5", h2.IP.String()); err != nil {
			t.Fatalf("h1 cannot reach h2 on the underlay: %v", err)
		}
		routes, err := h1.Exec("ip", "route", "show", "default")
		if err != nil || strings.TrimSpace(routes) != "" {
			t.Fatalf("h1 should have no default route, got %q (%v)", routes, err)
		}
	})

	t.Run("PublishedPortAcrossHosts", func(t *testing.T) {
		h1.RunContainer(t, "--name", "smoke", "-e", "NAME=smoke", "-p", "18080:8080", HTTPImage)
		ip, err := h1.ContainerIP("smoke", "bridge")
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("Hi! I'm smoke service and my container's IP is %s", ip)
		url := fmt.Sprintf("http://%s:18080/", h1.IP)
		Eventually(t, 30*time.Second, func() error {
			out, err := c.UnderlayExec(Wget(url)...)
			if err != nil || !strings.Contains(out, want) {
				return fmt.Errorf("from underlay: %q, %v; want %q", out, err, want)
			}
			return nil
		})
		out, err := h2.Docker(append([]string{"run", "--rm", BusyboxImage}, Wget(url)...)...)
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("from a container on h2: %q, %v", out, err)
		}
	})

	t.Run("CutAndRestoreUnderlay", func(t *testing.T) {
		if err := h2.CutUnderlay(); err != nil {
			t.Fatal(err)
		}
		if _, err := h1.Exec("busybox", "ping", "-c", "1", "-W", "2", h2.IP.String()); err == nil {
			t.Fatal("h2 still reachable after CutUnderlay")
		}
		if err := h2.RestoreUnderlay(); err != nil {
			t.Fatal(err)
		}
		Eventually(t, 30*time.Second, func() error {
			_, err := h1.Exec("busybox", "ping", "-c", "1", "-W", "2", h2.IP.String())
			return err
		})
	})

	t.Run("RestartDocker", func(t *testing.T) {
		start := time.Now()
		if err := h2.StopDocker(); err != nil {
			t.Fatal(err)
		}
		if _, err := h2.Docker("info"); err == nil {
			t.Fatal("docker info answers after StopDocker")
		}
		if err := h2.StartDocker(); err != nil {
			t.Fatal(err)
		}
		t.Logf("dockerd restarted in %s", time.Since(start).Round(100*time.Millisecond))
		h2.MustDocker(t, "run", "--rm", BusyboxImage, "true")
	})

	t.Run("StubPlugin", func(t *testing.T) {
		dir := stubPlugin(t)
		if err := h1.installPluginFrom(dir, map[string]string{"LOG_LEVEL": "info"}); err != nil {
			t.Fatal(err)
		}
		sock, err := h1.PluginSocket()
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
		if logs := strings.Join(h1.PluginLogs(), "\n"); !strings.Contains(logs, "testsrv stub listening") {
			t.Fatalf("plugin output not found in the daemon log; plugin lines:\n%s", logs)
		}
		h1.MustDocker(t, "plugin", "disable", Driver)
		h1.MustDocker(t, "plugin", "enable", Driver)
	})
}
