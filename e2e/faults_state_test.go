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
	h := c.Host(0)
	if err := h.InstallPlugin(nil); err != nil {
		t.Fatal(err)
	}
	h.MustDocker(t, append(append([]string{"network", "create"}, netArgs...), "--subnet", "10.51.0.0/24", "net1")...)
	path := filepath.Join(h.Dir, "plugin-state", "weavego.db")
	damage := map[string]func([]byte) []byte{
		"truncated": func(b []byte) []byte { return b[:len(b)/3] },
		"corrupt": func(b []byte) []byte {
			for i := 3 * 4096; i < len(b); i += 5 {
				b[i] ^= 0x5a
			}
			return b
		},
	}
	for _, kind := range []string{"truncated", "corrupt"} {
		h.MustDocker(t, "plugin", "disable", "-f", PluginName)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, damage[kind](b), 0o600); err != nil {
			t.Fatal(err)
		}
		logsBefore := len(h.PluginLogs())
		start := time.Now()
		_, enableErr := h.Docker("plugin", "enable", PluginName)
		var line string
		d := measure(t, start, time.Minute, func() error {
			for _, l := range h.PluginLogs()[logsBefore:] {
				if strings.Contains(l, "state file is damaged") {
					line = l
					return nil
				}
			}
			return fmt.Errorf("no damaged-state line in the plugin log yet")
		})
		panicked := false
		for _, l := range h.PluginLogs()[logsBefore:] {
			if strings.Contains(l, "panic") || strings.Contains(l, "goroutine ") {
				panicked = true
			}
		}
		t.Logf("%s state file: enable error %v; plugin said after %s: %s", kind, enableErr, faultFigure(d), line)
		ok := !panicked && strings.Contains(line, "move it away") && strings.Contains(line, "weavego.db")
		if panicked {
			t.Errorf("%s state file: the plugin panicked", kind)
		}
		if !strings.Contains(line, "move it away") || !strings.Contains(line, "weavego.db") {
			t.Errorf("%s state file: the log line does not name the file and what to do: %s", kind, line)
		}
		// Moved away, the plugin starts afresh.
		_, _ = h.Docker("plugin", "disable", "-f", PluginName)
		if err := os.Rename(path, path+".broken"); err != nil {
			t.Fatal(err)
		}
		// Docker may still hold the failed start's container for a moment: retry the enable.
		Eventually(t, time.Minute, func() error {
			if _, err := h.Docker("plugin", "enable", PluginName); err != nil {
				_, _ = h.Docker("plugin", "disable", "-f", PluginName)
				return err
			}
			_, err := h.Status()
			return err
		})
		reportFault(t, faultRow{Case: "state file " + kind,
			Bound:    "plugin refuses to start with one line naming the file and what moving it away loses; no panic",
			Measured: "refused after " + faultFigure(d) + "; started afresh once the file was moved away",
			Pass:     ok})
	}
}
