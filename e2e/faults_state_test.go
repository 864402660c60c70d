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

// TestFaultsStateFile: a truncated and a corrupt state file stop the plugin with one line naming the file and
// what to do, never a panic; moved away, the plugin starts afresh.
func TestFaultsStateFile(t *testing.T) {
	RequirePlugin(t)
	c := NewCluster(t, ClusterOptions{Hosts: 1})
	s := &stateFile{top: t, h: c.Host(0)}
	if err := s.h.InstallPlugin(nil); err != nil {
		t.Fatal(err)
	}
	s.h.MustDocker(t, append(append([]string{"network", "create"}, netArgs...), "--subnet", "10.51.0.0/24", "net1")...)
	s.path = filepath.Join(s.h.Dir, "plugin-state", "weavego.db")
	runSteps(t, []step{
		{"Truncated", func(t *testing.T) { s.damaged(t, "truncated", func(b []byte) []byte { return b[:len(b)/3] }) }},
		{"Corrupt", func(t *testing.T) {
			s.damaged(t, "corrupt", func(b []byte) []byte {
				for i := 3 * 4096; i < len(b); i += 5 {
					b[i] ^= 0x5a
				}
				return b
			})
		}},
	}, "Truncated")
}

// stateFile is the fixture of TestFaultsStateFile: one host with the plugin and net1.
type stateFile struct {
	top  *testing.T
	h    *Host
	path string // the plugin's state file
}

// damaged damages the state file with damage (kind says how) under a disabled plugin, enables it, checks that it
// refuses with one line naming the file and what to do, then moves the file away and starts the plugin afresh.
func (s *stateFile) damaged(t *testing.T, kind string, damage func([]byte) []byte) {
	h := s.h
	h.MustDocker(t, "plugin", "disable", "-f", PluginName)
	b, err := os.ReadFile(s.path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.path, damage(b), 0o600); err != nil {
		t.Fatal(err)
	}
	line, d, panicked := s.refusal(t, kind)
	ok := !panicked && strings.Contains(line, "move it away") && strings.Contains(line, "weavego.db")
	if panicked {
		t.Errorf("%s state file: the plugin panicked", kind)
	}
	if !strings.Contains(line, "move it away") || !strings.Contains(line, "weavego.db") {
		t.Errorf("%s state file: the log line does not name the file and what to do: %s", kind, line)
	}
	// Moved away, the plugin starts afresh.
	_, _ = h.Docker("plugin", "disable", "-f", PluginName)
	if err := os.Rename(s.path, s.path+".broken"); err != nil {
		t.Fatal(err)
	}
	enablePlugin(t, h)
	reportFaultStep(t, s.top, faultRow{Case: "state file " + kind,
		Bound:    "plugin refuses to start with one line naming the file and what moving it away loses; no panic",
		Measured: "refused after " + faultFigure(d) + "; started afresh once the file was moved away",
		Pass:     ok})
}

// refusal enables the plugin on a damaged state file and returns the log line that says so, how long after the
// enable it came, and whether the plugin panicked.
func (s *stateFile) refusal(t *testing.T, kind string) (line string, d time.Duration, panicked bool) {
	h := s.h
	logsBefore := len(h.PluginLogs())
	start := time.Now()
	_, enableErr := h.Docker("plugin", "enable", PluginName)
	d = measure(t, start, time.Minute, func() error {
		for _, l := range h.PluginLogs()[logsBefore:] {
			if strings.Contains(l, "state file is damaged") {
				line = l
				return nil
			}
		}
		return fmt.Errorf("no damaged-state line in the plugin log yet")
	})
	for _, l := range h.PluginLogs()[logsBefore:] {
		if strings.Contains(l, "panic") || strings.Contains(l, "goroutine ") {
			panicked = true
		}
	}
	t.Logf("%s state file: enable error %v; plugin said after %s: %s", kind, enableErr, faultFigure(d), line)
	return line, d, panicked
}
