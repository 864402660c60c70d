//go:build linux

package bench

import (
	"strconv"
	"strings"
	"time"

	"github.com/weavego/weavego/e2e"
)

// The plugins' datapath reconcile figures, read from their metrics.

// benchReconcile is the datapath reconcile histogram's count and sum (seconds).
type benchReconcile struct{ count, sum, errors float64 }

// benchReconcileMetrics reads h's plugin metrics (METRICS_ADDR on the host's loopback).
func benchReconcileMetrics(h *e2e.Host) (benchReconcile, error) {
	out, err := e2e.Run(10*time.Second, "nsenter", "--net="+h.NSPath(), "--", "busybox", "wget", "-q", "-O", "-", "http://"+benchMetricsAddr+"/metrics")
	if err != nil {
		return benchReconcile{}, err
	}
	var r benchReconcile
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) != 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "weavego_datapath_reconcile_duration_seconds_count":
			r.count = v
		case "weavego_datapath_reconcile_duration_seconds_sum":
			r.sum = v
		case "weavego_datapath_reconcile_errors_total":
			r.errors = v
		}
	}
	return r, nil
}

// benchMetricsAddr is METRICS_ADDR of the benchmark's weavego hosts, on each host's loopback.
const benchMetricsAddr = "127.0.0.1:9783"
