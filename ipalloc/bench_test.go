package ipalloc

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// BenchmarkRequestReleaseAddress measures a lease and its release on one
// host with 1,000 other leases live, reporting allocations per second and
// the p99 latency of RequestAddress (goal: at most 1 ms). "fsync" is the
// real configuration, where each call waits for bbolt's commit to reach the
// disk; "nosync" shows the allocator's own cost without the disk.
func BenchmarkRequestReleaseAddress(b *testing.B) {
	for _, noSync := range []bool{false, true} {
		name := map[bool]string{false: "fsync", true: "nosync"}[noSync]
		b.Run(name, func(b *testing.B) { benchLease(b, noSync) })
	}
}

func benchLease(b *testing.B, noSync bool) {
	ctx := context.Background()
	db := openDB(b, filepath.Join(b.TempDir(), "state.db"))
	db.NoSync = noSync
	a, err := New(Config{}, db, solo("h1"))
	if err != nil {
		b.Fatal(err)
	}
	mustPool(b, a, PoolRequest{Subnet: "10.8.0.0/16"})
	for range 1000 {
		mustAddr(b, a, AddressRequest{PoolID: "10.8.0.0/16"})
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		t0 := time.Now()
		ip, err := a.RequestAddress(ctx, AddressRequest{PoolID: "10.8.0.0/16"})
		lat = append(lat, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
		if err := a.ReleaseAddress(ctx, "10.8.0.0/16", ip.Addr()); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "allocs/s")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
