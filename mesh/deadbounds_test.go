package mesh

import (
	"testing"
	"time"
)

// TestDeadBounds pins the derived bounds at 100 and 1,000 hosts with the
// simulated spread (mesh/meshsim TestScale: 0.93 s and 1.37 s p99).
func TestDeadBounds(t *testing.T) {
	for _, c := range []struct {
		n          int
		spread     time.Duration
		fast, slow time.Duration
	}{
		{100, 930 * time.Millisecond, 5430 * time.Millisecond, 8430 * time.Millisecond},
		{1000, 1370 * time.Millisecond, 7370 * time.Millisecond, 11870 * time.Millisecond},
	} {
		fast, slow := DeadBounds(c.n, c.spread)
		if fast.Round(time.Millisecond) != c.fast || slow.Round(time.Millisecond) != c.slow {
			t.Errorf("DeadBounds(%d, %s) = %s, %s; want %s, %s", c.n, c.spread, fast, slow, c.fast, c.slow)
		}
	}
}
