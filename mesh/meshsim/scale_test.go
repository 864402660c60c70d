package meshsim

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weavego/weavego/reconcile"
)

var (
	scaleHosts     = flag.String("meshsim.hosts", "", "comma-separated cluster sizes for TestScale (opt-in)")
	scaleEndpoints = flag.Int("meshsim.endpoints", 50, "containers per host for TestScale")
	scaleSeed      = flag.Uint64("meshsim.seed", 1, "seed for TestScale")
	scaleLoss      = flag.Float64("meshsim.loss", 0.001, "gossip packet loss for TestScale")
	scaleChurn     = flag.Duration("meshsim.churn", 60*time.Second, "churn window for TestScale")
	scalePartRate  = flag.Float64("meshsim.partitionrate", 10, "containers per second during TestScale's partition")
	scaleOut       = flag.String("meshsim.json", "", "file to append TestScale's reports to, one JSON object a line")
	scaleProtocol  = flag.String("meshsim.protocol", "full", "full (full states) or diff (format 3's sync by difference)")
)

// protocolFlag returns the protocol -meshsim.protocol names.
func protocolFlag(t *testing.T) Protocol {
	switch *scaleProtocol {
	case "full":
		return NewFullState(reconcile.Validators())
	case "diff":
		return NewSyncByDifference(reconcile.Validators())
	}
	t.Fatalf("unknown -meshsim.protocol %q: full or diff", *scaleProtocol)
	return nil
}

// TestScale runs Measure at the sizes of -meshsim.hosts and prints a
// table; without the flag it is skipped. Example:
//
//	go test ./mesh/meshsim -run TestScale -v -timeout 0 -args -meshsim.hosts=100,1000
func TestScale(t *testing.T) {
	if *scaleHosts == "" {
		t.Skip("set -meshsim.hosts=100,1000 to run the scale simulation")
	}
	proto := protocolFlag(t)
	t.Logf("protocol %s", *scaleProtocol)
	mem := MemoryPer10k(Config{Seed: *scaleSeed, Protocol: proto})
	t.Logf("memory per 10,000 endpoints, one replica: %.1f MiB", float64(mem)/(1<<20))
	for _, f := range strings.Split(*scaleHosts, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			t.Fatalf("bad -meshsim.hosts %q", *scaleHosts)
		}
		start := time.Now()
		ph := Phases{Churn: *scaleChurn, PartitionRate: *scalePartRate}
		r := Measure(Config{Hosts: n, EndpointsPerHost: *scaleEndpoints, Seed: *scaleSeed, Loss: *scaleLoss,
			Protocol: proto}, ph)
		line := fmt.Sprintf("%s\nrun time %s", r, time.Since(start).Round(time.Second))
		t.Log("\n" + line)
		if *scaleOut != "" {
			f, err := os.OpenFile(*scaleOut, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			err = json.NewEncoder(f).Encode(ScaleRun{Report: r, Phases: ph, RunTime: time.Since(start),
				MemoryPer10k: mem})
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
}
