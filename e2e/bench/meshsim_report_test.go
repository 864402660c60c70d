//go:build linux

package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/weavego/weavego/mesh/meshsim"
)

// TestRecordSim checks the mesh simulation's rows: measured sizes, the extrapolation to 50 endpoints per host,
// the goal rows, and a size whose state no longer fits a push/pull.
func TestRecordSim(t *testing.T) {
	b := &bench{t: t, rep: newBenchReport()}
	full := meshsim.Report{Hosts: 100, EndpointsPerHost: 50, Entries: 10100, StateBytes: 1_600_000,
		PushPull: 30 * time.Second, SpreadP99: time.Second, IdleBytes: 107_000, JoinOK: true, HealOK: true}
	small := full
	small.EndpointsPerHost, small.Entries, small.StateBytes, small.IdleBytes = 10, 2100, 333_000, 23_000
	big := meshsim.Report{Hosts: 5000, EndpointsPerHost: 1, Entries: 15000, StateBytes: 2_400_000,
		PushPull: 90 * time.Second, JoinOK: true, HealOK: true, Join: time.Second}
	b.recordSim([]meshsim.ScaleRun{{Report: full}, {Report: small}, {Report: big}})
	if v, ok := b.rep.median("full state (one push/pull leg)", "5000 hosts × 50 endpoints (extrapolated)"); !ok ||
		v < 20<<20 {
		t.Errorf("extrapolated state %v (%v), want above 20 MiB", v, ok)
	}
	if _, ok := b.rep.median("new host holds the whole map", "5000 hosts × 50 endpoints (extrapolated)"); ok {
		t.Error("a join past memberlist's push/pull limit has a figure")
	}
	md := b.rep.markdown("")
	if n := strings.Count(md, "Dead host, 100 hosts"); n != 1 {
		t.Errorf("dead-host bound at 100 hosts stated %d times, want once", n)
	}
	for _, want := range []string{"idle bytes per host grow with the map", "20 MiB push/pull limit",
		"5000 hosts × 50 endpoints (not simulated, derived)",
		"| mesh simulation | new entry on all hosts, p99 | 100 hosts × 50 endpoints |",
		"Dead host, 100 hosts (derived, not measured): every host has declared a host that stopped answering " +
			"dead within 5.5 s with one confirming peer, 8.5 s without"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}
