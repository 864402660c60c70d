//go:build linux

package e2e

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fillDir writes zeros to <dir>/fill until the file system is full and returns how many bytes it wrote.
func fillDir(dir string) (int64, error) {
	f, err := os.Create(filepath.Join(dir, "fill"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 4096)
	var n int64
	for {
		k, err := f.Write(buf)
		n += int64(k)
		if errors.Is(err, syscall.ENOSPC) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// fullDiskRuns starts n containers named prefix-i on net1 of h and returns the errors of those that failed.
func fullDiskRuns(t *testing.T, h *Host, prefix string, n int) []string {
	t.Helper()
	var failed []string
	for i := range n {
		name := fmt.Sprintf("%s-%d", prefix, i)
		if _, err := h.Docker("run", "-d", "--network", "net1", "--name", name, BusyboxImage, "sleep", "36000"); err != nil {
			failed = append(failed, err.Error())
		}
		t.Cleanup(func() { _, _ = h.Docker("rm", "-f", name) })
	}
	return failed
}

// TestFaultsFullStateDisk: the plugin's state mount is a 1 MiB tmpfs, filled up while the plugin runs. Starting
// containers then either works or fails with an error saying the state disk is full; the plugin keeps running;
// once space is freed containers start again, and the plugin restarts from the last good state.
func TestFaultsFullStateDisk(t *testing.T) {
	RequirePlugin(t)
	h := NewCluster(t, ClusterOptions{Hosts: 1}).Host(0)
	state := filepath.Join(h.Dir, "plugin-state")
	if err := os.MkdirAll(state, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", state, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount a tmpfs on %s: %v", state, err)
	}
	if err := h.InstallPlugin(nil); err != nil {
		t.Fatal(err)
	}
	h.MustDocker(t, append(append([]string{"network", "create"}, netArgs...), "--subnet", "10.59.0.0/24", "net1")...)
	h.RunContainer(t, "--network", "net1", "--name", "before", BusyboxImage, "sleep", "36000")
	ipBefore, err := h.ContainerIP("before", "net1")
	if err != nil {
		t.Fatal(err)
	}
	pids, err := h.PluginPIDs()
	if err != nil || len(pids) != 1 {
		t.Fatalf("plugin pids %v: %v", pids, err)
	}

	filled, err := fillDir(state)
	if err != nil {
		t.Fatalf("fill %s: %v", state, err)
	}
	failed := fullDiskRuns(t, h, "full", 3)
	_, netErr := h.Docker("network", "create", "-d", Driver, "--ipam-driver", Driver, "--subnet", "10.59.1.0/24", "net2")
	t.Cleanup(func() { _, _ = h.Docker("network", "rm", "net2") })
	t.Logf("state disk full (%d bytes filled): %d of 3 docker run failed: %q; network create: %v", filled, len(failed), failed, netErr)
	clear := true
	for _, e := range failed {
		if !strings.Contains(e, "state disk is full") {
			clear = false
			t.Errorf("docker run on a full state disk failed without saying so: %s", e)
		}
	}
	pidsFull, err := h.PluginPIDs()
	alive := err == nil && slices.Equal(pidsFull, pids)
	if _, err := h.Status(); err != nil || !alive {
		alive = false
		t.Errorf("plugin after the disk filled: pids %v (were %v), status: %v", pidsFull, pids, err)
	}

	if err := os.Remove(filepath.Join(state, "fill")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	d := measure(t, start, time.Minute, func() error {
		_, err := h.Docker("run", "-d", "--network", "net1", "--name", "after", BusyboxImage, "sleep", "36000")
		if err != nil {
			_, _ = h.Docker("rm", "-f", "after")
		}
		return err
	})
	t.Cleanup(func() { _, _ = h.Docker("rm", "-f", "after") })
	t.Logf("space freed: a container started %s later", faultFigure(d))

	h.MustDocker(t, "plugin", "disable", "-f", PluginName)
	Eventually(t, time.Minute, func() error {
		if _, err := h.Docker("plugin", "enable", PluginName); err != nil {
			_, _ = h.Docker("plugin", "disable", "-f", PluginName)
			return err
		}
		_, err := h.Status()
		return err
	})
	h.RunContainer(t, "--network", "net1", "--name", "restarted", BusyboxImage, "sleep", "36000")
	ips := map[string]string{}
	for _, name := range []string{"before", "after", "restarted"} {
		ip, err := h.ContainerIP(name, "net1")
		if err != nil {
			t.Fatal(err)
		}
		if other, dup := ips[ip]; dup {
			t.Errorf("address %s given to %s and %s after the restart", ip, other, name)
		}
		ips[ip] = name
	}
	if ips[ipBefore] != "before" {
		t.Errorf("container before lost its address %s", ipBefore)
	}
	reportFault(t, faultRow{Case: "state disk full (1 MiB tmpfs) under the running plugin",
		Bound: "docker run works or fails saying the state disk is full; the plugin keeps running; after freeing " +
			"space containers start and the plugin restarts from the last good state",
		Measured: fmt.Sprintf("%d of 3 runs failed (%s); plugin kept running: %v; a run worked %s after freeing space; restart kept the leases",
			len(failed), fullDiskSummary(failed), alive, faultFigure(d)),
		Pass: clear && alive && !t.Failed()})
}

// fullDiskSummary says in a few words how runs on a full disk failed.
func fullDiskSummary(failed []string) string {
	if len(failed) == 0 {
		return "allocation needed no write"
	}
	for _, e := range failed {
		if !strings.Contains(e, "state disk is full") {
			return "unclear error"
		}
	}
	return "\"the state disk is full\""
}
