package ipalloc

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// BenchmarkRequestReleaseAddress measures a lease and its release on one
// host with 1,000 other leases live, reporting allocations per second and
// the p99 latency of RequestAddress. "fsync" is the real configuration,
// where each call waits for bbolt's commit to reach the disk; "nosync"
// shows the allocator's own cost without the disk. Between requests it
// times the disk's references in the same file system, interleaved with
// them: one fsync (a 4 KiB write and fdatasync, "fsync-p99-µs")
// and the least bbolt commit, one small key put ("commit-p99-µs").
func BenchmarkRequestReleaseAddress(b *testing.B) {
	for _, noSync := range []bool{false, true} {
		name := map[bool]string{false: "fsync", true: "nosync"}[noSync]
		b.Run(name, func(b *testing.B) { benchLease(b, noSync, 1) })
	}
}

// BenchmarkRequestAddressConcurrent is BenchmarkRequestReleaseAddress/fsync
// with 16 requests at once (16 goroutines started together, each a lease
// and its release, then the references alone, and again); the goal is a
// p99 of at most two fsyncs.
func BenchmarkRequestAddressConcurrent(b *testing.B) { benchLease(b, false, 16) }

func benchLease(b *testing.B, noSync bool, workers int) {
	dir := b.TempDir()
	db := openDB(b, filepath.Join(dir, "state.db"))
	db.NoSync = noSync
	a, err := New(Config{}, db, solo("h1"))
	if err != nil {
		b.Fatal(err)
	}
	mustPool(b, a, PoolRequest{Subnet: "10.8.0.0/16"})
	for range 1000 {
		mustAddr(b, a, AddressRequest{PoolID: "10.8.0.0/16"})
	}
	ref := newDiskRef(b, dir)
	var lat []time.Duration
	b.ResetTimer()
	start := time.Now()
	for done := 0; done < b.N; done += workers {
		ref.turn(b) // alone: the disk's reference between rounds
		lat = append(lat, leaseRound(b, a, min(workers, b.N-done))...)
	}
	elapsed := time.Since(start) - ref.spent
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "allocs/s")
	b.ReportMetric(p99µs(lat), "p99-µs")
	b.ReportMetric(p99µs(ref.fsync), "fsync-p99-µs")
	b.ReportMetric(p99µs(ref.commit), "commit-p99-µs")
}

// leaseRound makes n leases at once, each followed by its release, and
// returns the latencies of the RequestAddress calls.
func leaseRound(b *testing.B, a *Allocator, n int) []time.Duration {
	ctx := context.Background()
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			t0 := time.Now()
			ip, err := a.RequestAddress(ctx, AddressRequest{PoolID: "10.8.0.0/16"})
			lat[i] = time.Since(t0)
			if err == nil {
				err = a.ReleaseAddress(ctx, "10.8.0.0/16", ip.Addr())
			}
			if err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
	return lat
}

// diskRef times the disk's references next to the benchmark's state file.
type diskRef struct {
	f      *os.File
	db     *bbolt.DB
	fsync  []time.Duration
	commit []time.Duration
	spent  time.Duration // in turns, not counted as the allocator's
	page   []byte
}

func newDiskRef(b *testing.B, dir string) *diskRef {
	f, err := os.OpenFile(filepath.Join(dir, "fsync-ref"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	db := openDB(b, filepath.Join(dir, "commit-ref.db"))
	err = db.Update(func(tx *bbolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists([]byte("ref"))
		for i := 0; err == nil && i < 1000; i++ {
			err = bk.Put([]byte{byte(i >> 8), byte(i)}, []byte("{}"))
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return &diskRef{f: f, db: db, page: make([]byte, 4096)}
}

// turn times one fsync and one minimal bbolt commit.
func (r *diskRef) turn(b *testing.B) {
	t0 := time.Now()
	if _, err := r.f.WriteAt(r.page, 0); err != nil {
		b.Fatal(err)
	}
	if err := r.f.Sync(); err != nil {
		b.Fatal(err)
	}
	t1 := time.Now()
	err := r.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket([]byte("ref")).Put([]byte("k"), []byte("{}")) })
	if err != nil {
		b.Fatal(err)
	}
	r.fsync = append(r.fsync, t1.Sub(t0))
	r.commit = append(r.commit, time.Since(t1))
	r.spent += time.Since(t0)
}

func p99µs(d []time.Duration) float64 {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return float64(d[len(d)*99/100].Microseconds())
}
