//go:build linux

package e2e

import (
	"testing"
	"time"
)

// Eventually calls f until it returns nil, failing t with f's last error when timeout passes. The interval
// grows from 100ms to 2s, so quick conditions are seen quickly and slow ones do not spin on a shared machine.
func Eventually(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	if err := Poll(timeout, f); err != nil {
		t.Fatalf("e2e: still failing after %s: %v", timeout, err)
	}
}

// Poll is Eventually without a test: it returns f's last error when timeout passes, or nil.
func Poll(timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	interval := 100 * time.Millisecond
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().Add(interval).After(deadline) {
			return err
		}
		time.Sleep(interval)
		if interval < 2*time.Second {
			interval *= 2
		}
	}
}

// measure polls f every 50ms until it returns nil and returns the time since start; it fails t after timeout.
// It is for timings, where Eventually's growing interval would blur the figure.
func measure(t *testing.T, start time.Time, timeout time.Duration, f func() error) time.Duration {
	t.Helper()
	for {
		err := f()
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("still failing after %s: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
