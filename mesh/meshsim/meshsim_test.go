package meshsim

import (
	"testing"
	"time"

	"github.com/weavego/weavego/reconcile"
)

// TestShort runs a small cluster through every phase and checks that it
// converges, that admission refused nothing, and that a second run of the
// same seed gives the same figures.
func TestShort(t *testing.T) {
	t.Run("full", func(t *testing.T) { testShort(t, nil) })
	t.Run("diff", func(t *testing.T) { testShort(t, NewSyncByDifference(reconcile.Validators())) })
}

func testShort(t *testing.T, p Protocol) {
	cfg := Config{Hosts: 16, EndpointsPerHost: 4, Seed: 1, Loss: 0.02, Protocol: p}
	ph := Phases{Spread: 8, Churn: 10 * time.Second, Partition: 15 * time.Second, Idle: 10 * time.Second}
	r := Measure(cfg, ph)
	t.Logf("\n%s", r)
	if !r.Converged || !r.JoinOK || !r.HealOK {
		t.Errorf("converged %v, join %v, heal %v: want all true", r.Converged, r.JoinOK, r.HealOK)
	}
	if r.Rejected != 0 {
		t.Errorf("admission refused %d records of the workload", r.Rejected)
	}
	if r.Samples != 2*ph.Spread {
		t.Errorf("%d spread samples, want %d", r.Samples, 2*ph.Spread)
	}
	if again := Measure(cfg, ph); again != r {
		t.Errorf("same seed, other figures:\n%s\n%s", r, again)
	}
}
