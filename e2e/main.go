//go:build linux

package e2e

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Main is the TestMain of every package of end-to-end tests (e2e and e2e/bench): it sweeps what earlier
// interrupted runs left, tears this process's hosts down on SIGINT, SIGTERM and shortly before go test's
// -timeout, and exits with m's result.
func Main(m *testing.M) {
	flag.Parse()
	enabled := os.Getenv("WEAVEGO_E2E") != "0" && os.Geteuid() == 0
	if enabled {
		found, err := SweepStale()
		if len(found) > 0 {
			fmt.Fprintf(os.Stderr, "e2e: removed leftovers of earlier runs: %s\n", strings.Join(found, ", "))
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "e2e: sweep of earlier runs: %v\n", err)
		}
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		sig := <-sigs
		fmt.Fprintf(os.Stderr, "e2e: %v: tearing down hosts\n", sig)
		if err := sweepOwned(10 * time.Second); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: teardown after %v: %v\n", sig, err)
		}
		images.cleanup()
		os.Exit(130)
	}()
	watchTimeout()
	code := m.Run()
	signal.Stop(sigs)
	images.cleanup()
	os.Exit(code)
}

// watchTimeout tears this process's hosts down shortly before go test's -timeout panics, since a panicking test
// binary runs no cleanups. The tests then fail, as they would have anyway.
func watchTimeout() {
	f := flag.Lookup("test.timeout")
	if f == nil {
		return
	}
	d, err := time.ParseDuration(f.Value.String())
	if err != nil || d < 3*time.Minute {
		return
	}
	time.AfterFunc(d-time.Minute, func() {
		fmt.Fprintf(os.Stderr, "e2e: go test -timeout %s is near: tearing down hosts so nothing is left behind\n", d)
		if err := sweepOwned(5 * time.Second); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		}
	})
}
