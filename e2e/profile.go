//go:build linux

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// profilePlugins, when WEAVEGO_PROFILE_DIR names a directory, records with perf the CPU profile (with call
// graphs, user and kernel) of the plugin processes of hosts while the caller measures, into
// <dir>/plugins-<rep>.data; the function it returns stops the recording. Without the variable, or without perf,
// it does nothing: the profile is for a person reading it (`perf report -i`), never an assertion.
func profilePlugins(t *testing.T, rep int, hosts ...*Host) func() {
	t.Helper()
	dir := os.Getenv("WEAVEGO_PROFILE_DIR")
	if dir == "" {
		return func() {}
	}
	var pids []string
	for _, h := range hosts {
		pid, err := h.pluginPID()
		if err != nil {
			t.Logf("no profile: %v", err)
			return func() {}
		}
		pids = append(pids, fmt.Sprint(pid))
	}
	out := filepath.Join(dir, fmt.Sprintf("plugins-%d.data", rep))
	d, err := StartServer("perf-plugins", out+".log", "perf", "record", "-F", "999", "-g", "-o", out,
		"-p", strings.Join(pids, ","))
	if err != nil {
		t.Logf("no profile: %v", err)
		return func() {}
	}
	return func() {
		if err := d.Stop(30 * time.Second); err != nil {
			t.Logf("stop perf: %v", err)
		}
		t.Logf("CPU profile of the plugins (pids %v) in %s", pids, out)
	}
}
