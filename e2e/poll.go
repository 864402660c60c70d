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
