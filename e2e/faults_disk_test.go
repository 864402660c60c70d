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
	s := &fullStateDisk{top: t, h: h, state: filepath.Join(h.Dir, "plugin-state")}
	runSteps(t, []step{
		{"PluginOnSmallDisk", s.pluginOnSmallDisk},
		{"DiskFull", s.diskFull},
		{"SpaceFreed", s.spaceFreed},
		{"RestartKeepsLeases", s.restartKeepsLeases},
		{"Report", s.report},
	}, "PluginOnSmallDisk", "DiskFull", "SpaceFreed", "RestartKeepsLeases")
}

// fullStateDisk is the fixture of TestFaultsFullStateDisk: one host whose plugin state is on a 1 MiB tmpfs.
type fullStateDisk struct {
	top      *testing.T // the test itself, which owns the containers and networks
	h        *Host
	state    string   // the plugin's state directory, the tmpfs
	ipBefore string   // the address of container before, started while the disk had room
	pids     []int    // the plugin's processes before the disk filled
	failed   []string // errors of the runs on the full disk
	clear    bool     // every such error says the state disk is full
	alive    bool     // the plugin kept running on the full disk
	d        time.Duration
}

func (s *fullStateDisk) pluginOnSmallDisk(t *testing.T) {
	h := s.h
	if err := os.MkdirAll(s.state, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", s.state, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount a tmpfs on %s: %v", s.state, err)
	}
	if err := h.InstallPlugin(nil); err != nil {
		t.Fatal(err)
	}
	h.MustDocker(t, append(append([]string{"network", "create"}, netArgs...), "--subnet", "10.59.0.0/24", "net1")...)
	runFor(t, s.top, h, "--network", "net1", "--name", "before", BusyboxImage, "sleep", "36000")
	var err error
	if s.ipBefore, err = h.ContainerIP("before", "net1"); err != nil {
		t.Fatal(err)
	}
	if s.pids, err = h.PluginPIDs(); err != nil || len(s.pids) != 1 {
		t.Fatalf("plugin pids %v: %v", s.pids, err)
	}
}

func (s *fullStateDisk) diskFull(t *testing.T) {
	h := s.h
	filled, err := fillDir(s.state)
	if err != nil {
		t.Fatalf("fill %s: %v", s.state, err)
	}
	s.failed = fullDiskRuns(s.top, h, "full", 3)
	_, netErr := h.Docker("network", "create", "-d", Driver, "--ipam-driver", Driver, "--subnet", "10.59.1.0/24", "net2")
	s.top.Cleanup(func() { _, _ = h.Docker("network", "rm", "net2") })
	t.Logf("state disk full (%d bytes filled): %d of 3 docker run failed: %q; network create: %v", filled, len(s.failed), s.failed, netErr)
	s.clear = true
	for _, e := range s.failed {
		if !strings.Contains(e, "state disk is full") {
			s.clear = false
			t.Errorf("docker run on a full state disk failed without saying so: %s", e)
		}
	}
	pidsFull, err := h.PluginPIDs()
	s.alive = err == nil && slices.Equal(pidsFull, s.pids)
	if _, err := h.Status(); err != nil || !s.alive {
		s.alive = false
		t.Errorf("plugin after the disk filled: pids %v (were %v), status: %v", pidsFull, s.pids, err)
	}
}

func (s *fullStateDisk) spaceFreed(t *testing.T) {
	h := s.h
	if err := os.Remove(filepath.Join(s.state, "fill")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s.d = measure(t, start, time.Minute, func() error {
		_, err := h.Docker("run", "-d", "--network", "net1", "--name", "after", BusyboxImage, "sleep", "36000")
		if err != nil {
			_, _ = h.Docker("rm", "-f", "after")
		}
		return err
	})
	s.top.Cleanup(func() { _, _ = h.Docker("rm", "-f", "after") })
	t.Logf("space freed: a container started %s later", faultFigure(s.d))
}

func (s *fullStateDisk) restartKeepsLeases(t *testing.T) {
	h := s.h
	h.MustDocker(t, "plugin", "disable", "-f", PluginName)
	enablePlugin(t, h)
	runFor(t, s.top, h, "--network", "net1", "--name", "restarted", BusyboxImage, "sleep", "36000")
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
	if ips[s.ipBefore] != "before" {
		t.Errorf("container before lost its address %s", s.ipBefore)
	}
}

func (s *fullStateDisk) report(t *testing.T) {
	reportFaultStep(t, s.top, faultRow{Case: "state disk full (1 MiB tmpfs) under the running plugin",
		Bound: "docker run works or fails saying the state disk is full; the plugin keeps running; after freeing " +
			"space containers start and the plugin restarts from the last good state",
		Measured: fmt.Sprintf("%d of 3 runs failed (%s); plugin kept running: %v; a run worked %s after freeing space; restart kept the leases",
			len(s.failed), fullDiskSummary(s.failed), s.alive, faultFigure(s.d)),
		Pass: s.clear && s.alive})
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
