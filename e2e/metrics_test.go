//go:build linux

package e2e

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The test's plugins serve metrics on every address of their host (metricsListen), so that the test can show
// that containers still cannot reach them; the test scrapes them on loopback (metricsAddr).
const (
	metricsPort   = "9783"
	metricsListen = ":" + metricsPort
	metricsAddr   = "127.0.0.1:" + metricsPort
)

// scrapeMetrics fetches h's /metrics with busybox wget from the host's network namespace.
func scrapeMetrics(h *Host) (string, error) {
	return h.Exec("busybox", "wget", "-qO-", "http://"+metricsAddr+"/metrics")
}

// metricValue sums the samples of series in a Prometheus text exposition: series is a metric name, optionally
// with a label subset such as `weavego_peers{state="alive"`. found is false when no sample matches.
func metricValue(text, series string) (sum float64, found bool) {
	name, labels, _ := strings.Cut(series, "{")
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		sample, value, ok := strings.Cut(line, " ")
		if !ok || (sample != name && !strings.HasPrefix(sample, name+"{")) {
			continue
		}
		if labels != "" {
			matched := true
			for _, l := range strings.Split(strings.TrimSuffix(labels, "}"), ",") {
				matched = matched && strings.Contains(sample, l)
			}
			if !matched {
				continue
			}
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
			sum += v
			found = true
		}
	}
	return sum, found
}

// TestMetrics: with METRICS_ADDR set, each plugin serves /metrics on the host; the exposition passes
// `promtool check metrics` and its figures follow what the cluster did.
func TestMetrics(t *testing.T) {
	RequirePlugin(t)
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool is missing: run scripts/prepare e2e (it installs it with scripts/get-promtool)")
	}
	wc := NewCluster(t, ClusterOptions{Hosts: 2, Mesh: 2, Env: map[string]string{"METRICS_ADDR": metricsListen}})
	h1, h2 := wc.Host(0), wc.Host(1)
	h1.CreateNetwork(t, "net1", netArgs...)
	Eventually(t, 2*time.Minute, func() error { _, err := h2.NetworkView("net1"); return err })
	h2.RunContainer(t, "--name", "svc2", "--network", "net1", "-e", "NAME=svc2", HTTPImage)
	v, err := h1.NetworkView("net1")
	if err != nil {
		t.Fatal(err)
	}
	h1.RunContainer(t, "--name", "client", "--network", "net1", "--dns", v.Gateway, BusyboxImage, "sleep", "3600")
	svc2, err := h2.ContainerIP("svc2", "net1")
	if err != nil {
		t.Fatal(err)
	}
	Eventually(t, time.Minute, func() error { return fetch(h1, "client", "http://svc2:8080/", hello("svc2", svc2)) })

	want := map[string]func(float64) bool{
		`weavego_peers{state="alive"`:                                 func(v float64) bool { return v == 2 },
		`weavego_build_info`:                                          func(v float64) bool { return v == 1 },
		`weavego_replicated_entries{kind="ep"`:                        func(v float64) bool { return v >= 2 },
		`weavego_ipam_pool_used_addresses`:                            func(v float64) bool { return v >= 2 },
		`weavego_ipam_allocation_duration_seconds_count`:              func(v float64) bool { return v >= 1 },
		`weavego_plugin_requests_total{endpoint="NetworkDriver.Join"`: func(v float64) bool { return v >= 1 },
		`weavego_datapath_reconcile_runs_total`:                       func(v float64) bool { return v >= 1 },
		`weavego_datapath_fdb_entries`:                                func(v float64) bool { return v >= 1 },
		`weavego_datapath_neighbour_entries`:                          func(v float64) bool { return v >= 1 },
		`weavego_dns_replies_total{rcode="NOERROR"`:                   func(v float64) bool { return v >= 1 },
		`weavego_gossip_messages_sent_total`:                          func(v float64) bool { return v >= 1 },
		`weavego_firewall_dropped_packets_total`:                      func(v float64) bool { return v >= 0 },
	}
	var text string
	Eventually(t, time.Minute, func() error {
		if text, err = scrapeMetrics(h1); err != nil {
			return err
		}
		for series, ok := range want {
			if v, found := metricValue(text, series); !found || !ok(v) {
				return fmt.Errorf("h1 /metrics: %s} = %v (found %v)", series, v, found)
			}
		}
		return nil
	})
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out.String())
	}
	if _, err := scrapeMetrics(h2); err != nil {
		t.Errorf("h2 /metrics: %v", err)
	}
	// The input firewall drops all a container sends to its host but DNS, the metrics port included.
	url := "http://" + net.JoinHostPort(v.Gateway, metricsPort) + "/metrics"
	if out, err := execIn(h1, "client", "wget", "-T", "3", "-qO-", url); err == nil {
		t.Errorf("a container reached the metrics listener at %s: %.200q", url, out)
	}
	t.Logf("h1 /metrics: %d lines, promtool check metrics passed", strings.Count(text, "\n"))
}
