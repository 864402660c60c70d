//go:build linux

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// What teardown does with a host's logs. The plugin never panics, in any test: a crash is a failure even when
// every step passed, since Docker restarts a crashed plugin and the steps after it may not notice. When a test
// failed, the whole logs go to files and the test log gets a summary, so that the failure's own message stays
// near the end of the output instead of under thousands of plugin lines.

// logsEnv names the directory for the logs of failed tests; by default build/e2e-logs in the repository.
const logsEnv = "WEAVEGO_E2E_LOGS"

// crashMarks are what the Go runtime writes when a process dies of a panic or a fatal error, what the
// plugin's own request handler logs when it recovers one, and what a plugin built with -race reports.
var crashMarks = regexp.MustCompile(`msg="(panic: |fatal error: |WARNING: DATA RACE)|driver panic`)

// crashLines returns the plugin log lines that show a panic (recovered or not), a fatal runtime error or a
// race report.
func crashLines(lines []string) []string {
	var out []string
	for _, l := range lines {
		if crashMarks.MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}

// pluginLevel matches the level of the plugin's own record inside the daemon's log line.
var pluginLevel = regexp.MustCompile(`msg="time=\S+ level=(WARN|ERROR) `)

// logSummary returns at most n plugin log lines for the test log: its warnings and errors and its last lines,
// in order.
func logSummary(lines []string, n int) []string {
	keep := make([]bool, len(lines))
	for i := len(lines) - 1; i >= 0 && i >= len(lines)-n/2; i-- {
		keep[i] = true
	}
	left := n - min(len(lines), n/2)
	for i := len(lines) - 1; i >= 0 && left > 0; i-- {
		if !keep[i] && (pluginLevel.MatchString(lines[i]) || crashMarks.MatchString(lines[i])) {
			keep[i] = true
			left--
		}
	}
	var out []string
	for i, l := range lines {
		if keep[i] {
			out = append(out, l)
		}
	}
	return out
}

// logsDir returns where the logs of a failed test go: $WEAVEGO_E2E_LOGS, else build/e2e-logs in the
// repository.
func logsDir() string {
	if d := os.Getenv(logsEnv); d != "" {
		return d
	}
	return filepath.Join(RepoRoot(), "build", "e2e-logs")
}

// saveLogs copies the host's whole dockerd log (which holds the plugin's output) to
// <logs dir>/<test>/<run>-<host>-dockerd.log and returns the path.
func (h *Host) saveLogs(test string) (string, error) {
	b, err := os.ReadFile(h.dockerdLog())
	if err != nil {
		return "", err
	}
	dir := filepath.Join(logsDir(), strings.ReplaceAll(test, "/", "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-%s-dockerd.log", h.cluster.ID, h.Name))
	return path, os.WriteFile(path, b, 0o644)
}

// reportLogs fails the test when the plugin crashed, and when the test failed it saves the logs and puts a
// summary of them in the test log.
func (h *Host) reportLogs(failed bool) {
	t := h.cluster.t
	lines := h.PluginLogs()
	if crash := crashLines(lines); len(crash) > 0 {
		t.Errorf("e2e: %s: the plugin panicked or crashed (%d line(s)):\n%s", h.Name, len(crash),
			strings.Join(lastN(crash, 10), "\n"))
		failed = true
	}
	if !failed {
		return
	}
	path, err := h.saveLogs(t.Name())
	where := "whole log in " + path
	if err != nil {
		where = fmt.Sprintf("not saved: %v", err)
	}
	sum := logSummary(lines, 30)
	t.Logf("e2e: %s plugin log: %d lines, %s; its warnings, errors and last lines:\n%s", h.Name, len(lines),
		where, strings.Join(sum, "\n"))
	t.Logf("e2e: %s dockerd log tail:\n%s", h.Name, h.DockerdLog(15))
}
