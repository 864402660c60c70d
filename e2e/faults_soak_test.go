//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// soakEnv sets the soak's length in minutes: `make faults` gives 30, `make test` 5.
const soakEnv = "WEAVEGO_SOAK"

// soakTombstoneTTL is the soak cluster's TOMBSTONE_TTL; see TestFaultsSoak.
const soakTombstoneTTL = time.Minute

// soakMetric is one resource the soak samples on each host, with the growth it tolerates between the middle
// and the last third of the run (beyond a 20 % margin).
type soakMetric struct {
	name  string
	slack float64
	read  func(h *Host) (float64, error)
}

func soakMetrics() []soakMetric {
	return []soakMetric{
		{"plugin RSS (KiB)", 8 << 10, pluginRSS},
		{"goroutines", 25, goroutines},
		{"open files", 10, openFiles},
		{"links", 4, countLines("ip", "-o", "link", "show")},
		{"FDB entries", 8, countLines("bridge", "fdb", "show")},
		{"neighbour entries", 8, countLines("ip", "neigh", "show")},
		{"nft ruleset lines", 4, countLines("nft", "list", "ruleset")},
		{"state file (bytes)", 128 << 10, stateSize},
	}
}

func pluginPID(h *Host) (int, error) {
	pids, err := h.PluginPIDs()
	if err != nil || len(pids) != 1 {
		return 0, fmt.Errorf("%s: plugin pids %v: %v", h.Name, pids, err)
	}
	return pids[0], nil
}

func pluginRSS(h *Host) (float64, error) {
	pid, err := pluginPID(h)
	if err != nil {
		return 0, err
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			return strconv.ParseFloat(f[1], 64)
		}
	}
	return 0, fmt.Errorf("%s: no VmRSS for pid %d", h.Name, pid)
}

func openFiles(h *Host) (float64, error) {
	pid, err := pluginPID(h)
	if err != nil {
		return 0, err
	}
	e, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return float64(len(e)), err
}

func goroutines(h *Host) (float64, error) {
	out, err := h.WeavegoCLI("status", "--json")
	if err != nil {
		return 0, err
	}
	var st struct{ Goroutines int }
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return 0, err
	}
	return float64(st.Goroutines), nil
}

func countLines(args ...string) func(h *Host) (float64, error) {
	return func(h *Host) (float64, error) {
		out, err := h.Exec(args...)
		return float64(len(strings.Split(strings.TrimSpace(out), "\n"))), err
	}
}

func stateSize(h *Host) (float64, error) {
	fi, err := os.Stat(filepath.Join(h.Dir, "plugin-state", "weavego.db"))
	if err != nil {
		return 0, err
	}
	return float64(fi.Size()), nil
}

// soakChurn runs one round on h: start a container, reach a long-lived container on another host, remove it.
func soakChurn(h *Host, name, target string) error {
	if _, err := h.Docker("run", "-d", "--network", "net1", "--name", name, BusyboxImage, "sleep", "3600"); err != nil {
		return err
	}
	defer func() { _, _ = h.Docker("rm", "-f", name) }()
	return Poll(30*time.Second, func() error { _, err := execIn(h, name, "ping", "-c1", "-W1", target); return err })
}

// TestFaultsSoak churns containers across 3 hosts for WEAVEGO_SOAK minutes, sampling the plugin's memory,
// goroutines and open files, the kernel objects and the state file on every host: none may keep growing (the
// last third of the run against the middle third, 20 % margin plus a slack per metric).
func TestFaultsSoak(t *testing.T) {
	minutes, err := strconv.Atoi(os.Getenv(soakEnv))
	if err != nil || minutes <= 0 {
		t.Skipf("set %s=minutes to soak (make faults: 30, make test: 5)", soakEnv)
	}
	RequirePlugin(t)
	// Deleted endpoints are remembered TOMBSTONE_TTL: shortened to a minute, their number (and the state
	// file) levels off early in the run, and what still grows after that is a leak.
	wc := NewCluster(t, ClusterOptions{Hosts: 3, Mesh: 3, Env: map[string]string{"TOMBSTONE_TTL": soakTombstoneTTL.String()}})
	hosts := wc.Hosts()
	hosts[0].MustDocker(t, append(append([]string{"network", "create"}, netArgs...), "--subnet", "10.50.0.0/22", "net1")...)
	anchors := map[*Host]string{}
	for i, h := range hosts {
		Eventually(t, time.Minute, func() error {
			if !hasNetwork(h, "net1") {
				return fmt.Errorf("net1 not on %s yet", h.Name)
			}
			return nil
		})
		name := fmt.Sprintf("anchor%d", i+1)
		h.RunContainer(t, "--network", "net1", "--name", name, BusyboxImage, "sleep", "36000")
		ip, err := h.ContainerIP(name, "net1")
		if err != nil {
			t.Fatal(err)
		}
		anchors[h] = ip
	}
	metrics := soakMetrics()
	samples := map[string][][]float64{} // host/metric -> per sample
	var mu sync.Mutex
	sample := func() {
		for _, h := range hosts {
			for _, m := range metrics {
				v, err := m.read(h)
				if err != nil {
					t.Logf("soak: sample %s on %s: %v", m.name, h.Name, err)
					continue
				}
				mu.Lock()
				k := h.Name + "/" + m.name
				samples[k] = append(samples[k], []float64{v})
				mu.Unlock()
			}
		}
	}
	end := time.Now().Add(time.Duration(minutes) * time.Minute)
	rounds, failures := 0, 0
	nextSample := time.Now()
	for time.Now().Before(end) {
		if time.Now().After(nextSample) {
			sample()
			nextSample = time.Now().Add(15 * time.Second)
		}
		var wg sync.WaitGroup
		errs := make([]error, len(hosts))
		for i, h := range hosts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = soakChurn(h, fmt.Sprintf("soak-%d-%d", i+1, rounds), anchors[hosts[(i+1)%len(hosts)]])
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				failures++
				t.Logf("soak round %d: %v", rounds, err)
			}
		}
		rounds++
	}
	sample()
	grew := checkGrowth(t, metrics, samples)
	t.Logf("soak: %d minutes, %d rounds of 3 containers, %d failed", minutes, rounds, failures)
	if failures > 0 {
		t.Errorf("%d of %d container rounds failed during the soak", failures, rounds*len(hosts))
	}
	reportFault(t, faultRow{Case: "soak: container churn on 3 hosts (WEAVEGO_SOAK minutes, TOMBSTONE_TTL 1m)",
		Bound:    "no round fails; no resource keeps growing (last third ≤ middle third + 20 % + slack, or flat)",
		Measured: fmt.Sprintf("%d minutes, %d rounds, %d failed; %s", minutes, rounds, failures, grew),
		Pass:     failures == 0})
}

// checkGrowth compares the mean of the last third of each series with that of the middle third and fails t on
// growth beyond the margin; it returns the largest growth seen, for the report.
func checkGrowth(t *testing.T, metrics []soakMetric, samples map[string][][]float64) string {
	t.Helper()
	slack := map[string]float64{}
	for _, m := range metrics {
		slack[m.name] = m.slack
	}
	worst, worstKey := 0.0, ""
	for k, s := range samples {
		n := len(s)
		if n < 6 {
			t.Logf("soak: %s: only %d samples, growth not judged", k, n)
			continue
		}
		mid, last := mean(s[n/3:2*n/3]), mean(s[2*n/3:])
		_, metric, _ := strings.Cut(k, "/")
		t.Logf("soak: %s: first %.0f, middle third %.0f, last third %.0f", k, s[0][0], mid, last)
		if mid > 0 && (last-mid)/mid > worst {
			worst, worstKey = (last-mid)/mid, k
		}
		// A file that grows by doubling (bbolt) levels off in steps: a flat last third has stopped growing.
		if last > mid*1.2+slack[metric] && !flat(s[2*n/3:]) {
			t.Errorf("soak: %s keeps growing: middle third %.0f, last third %.0f", k, mid, last)
		}
	}
	return fmt.Sprintf("largest growth middle→last third %+.1f %% (%s)", 100*worst, worstKey)
}

// flat tells whether every sample of s is the same.
func flat(s [][]float64) bool {
	for _, v := range s {
		if v[0] != s[0][0] {
			return false
		}
	}
	return true
}

func mean(s [][]float64) float64 {
	sum := 0.0
	for _, v := range s {
		sum += v[0]
	}
	return sum / float64(len(s))
}
