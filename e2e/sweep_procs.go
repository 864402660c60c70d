//go:build linux

package e2e

// The processes of a run or of one host, found in /proc, and how they are stopped.

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// PIDs lists every process on the machine but this one.
func PIDs() []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid != os.Getpid() {
			out = append(out, pid)
		}
	}
	return out
}

// runProcesses finds the processes of a run: daemons and shims name its directory on their command line, the
// plugin, docker-proxy and test servers live in its namespaces, containers live in its cgroups.
func runProcesses(tag string, nsInodes map[uint64]bool) []int {
	var out []int
	for _, pid := range PIDs() {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		cgroup, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		var st syscall.Stat_t
		inNS := syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st) == nil && nsInodes[st.Ino]
		if inNS || strings.Contains(string(cmdline), tag) || strings.Contains(string(cgroup), "/"+tag+"-") {
			out = append(out, pid)
		}
	}
	return out
}

// leftoverProcesses finds the processes of host h still running once its daemons stopped: shims (their command
// line names the host's directory), processes in its namespace (the plugin) and in its cgroups (containers).
func (h *Host) leftoverProcesses() []int {
	var ns syscall.Stat_t
	haveNS := syscall.Stat(h.NSPath(), &ns) == nil
	var out []int
	for _, pid := range PIDs() {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		cgroup, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		var st syscall.Stat_t
		inNS := haveNS && syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st) == nil && st.Ino == ns.Ino
		inCgroup := strings.Contains(string(cgroup), "/"+h.NetNS+"/") || strings.Contains(string(cgroup), "/"+h.NetNS+"\n")
		if inNS || inCgroup || strings.Contains(string(cmdline), h.Dir+"/") {
			out = append(out, pid)
		}
	}
	return out
}

// describe names processes as pid/command for reports.
func describe(pids []int) string {
	var parts []string
	for _, pid := range pids {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		parts = append(parts, fmt.Sprintf("%d/%s", pid, strings.TrimSpace(strings.ReplaceAll(string(comm), "\x00", " "))))
	}
	return strings.Join(parts, " ")
}

// terminate sends SIGTERM to pids, waits up to grace for them to exit, then SIGKILLs the rest.
func terminate(pids []int, grace time.Duration) error {
	alive := func() []int {
		var left []int
		for _, pid := range pids {
			// Zombies of other parents count as gone: they hold no resources we clean.
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && !strings.Contains(string(b), ") Z ") {
				left = append(left, pid)
			}
		}
		return left
	}
	sig := syscall.SIGTERM
	if grace <= 0 {
		sig = syscall.SIGKILL
	}
	for _, pid := range pids {
		_ = syscall.Kill(pid, sig)
	}
	deadline := time.Now().Add(grace + 20*time.Second)
	killed := sig == syscall.SIGKILL
	for time.Now().Before(deadline) {
		left := alive()
		if len(left) == 0 {
			return nil
		}
		if !killed && time.Now().After(deadline.Add(-20*time.Second)) {
			for _, pid := range left {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			killed = true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("processes %v survived SIGKILL", alive())
}
