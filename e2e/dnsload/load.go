// Package dnsload is the DNS load generator of weavego's benchmarks: closed-loop UDP clients that each wait
// for a reply before sending the next query, and report queries per second and the 99th percentile latency.
// It lives beside the e2e harness because nothing in the plugin uses it; it only ever aims at loopback.
package dnsload

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Bounds on Run, so that a benchmark can never turn into a flood.
const (
	// MaxWorkers bounds Run's concurrent clients.
	MaxWorkers = 256
	// MaxQueries bounds the queries of one Run call.
	MaxQueries = 1_000_000
	// MaxDuration bounds the running time of one Run call.
	MaxDuration = 2 * time.Minute
	// loadQueryTimeout is how long Run waits for one reply.
	loadQueryTimeout = time.Second
)

// Run sends n A queries for name to the DNS server at addr, which must be a
// loopback "ip:port", over UDP from workers clients that each wait for a
// reply before sending the next query. It returns the rate of answered
// queries and the 99th percentile latency of those. It stops when ctx is
// done or after MaxDuration; err then says how far it got, and also
// reports queries that got no valid reply within a second.
func Run(ctx context.Context, addr, name string, workers, n int) (qps float64, p99 time.Duration, err error) {
	if err := checkArgs(addr, workers, n); err != nil {
		return 0, 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, MaxDuration)
	defer cancel()
	var next atomic.Int64
	lat := make([][]time.Duration, workers)
	errs := make([]error, workers)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() { lat[i], errs[i] = loadWorker(ctx, addr, dns.Fqdn(name), &next, int64(n)) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	all := slices.Concat(lat...)
	if len(all) > 0 {
		slices.Sort(all)
		p99 = all[(len(all)*99+99)/100-1]
		qps = float64(len(all)) / elapsed.Seconds()
	}
	if err := errors.Join(errs...); err != nil {
		return qps, p99, fmt.Errorf("load %s: %d of %d queries answered: %w", addr, len(all), n, err)
	}
	return qps, p99, nil
}

func checkArgs(addr string, workers, n int) error {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().IsLoopback() {
		return fmt.Errorf("load target %q: must be a loopback ip:port", addr)
	}
	if workers < 1 || workers > MaxWorkers {
		return fmt.Errorf("load workers %d: must be 1..%d", workers, MaxWorkers)
	}
	if n < 1 || n > MaxQueries {
		return fmt.Errorf("load queries %d: must be 1..%d", n, MaxQueries)
	}
	return nil
}

// loadWorker sends queries until n have been claimed across all workers,
// returning its latencies and the first failure (with a count).
func loadWorker(ctx context.Context, addr, fqdn string, next *atomic.Int64, n int64) ([]time.Duration, error) {
	conn, err := dns.Dial("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	defer conn.Close()
	var lat []time.Duration
	var first error
	failed := 0
	for next.Add(1) <= n {
		if err := ctx.Err(); err != nil {
			return lat, errors.Join(first, fmt.Errorf("stopped: %w", err))
		}
		t0 := time.Now()
		if err := loadOne(conn, fqdn, t0.Add(loadQueryTimeout)); err != nil {
			failed++
			first = cmpOr(first, err)
			continue
		}
		lat = append(lat, time.Since(t0))
	}
	if first != nil {
		return lat, fmt.Errorf("%d failed, first: %w", failed, first)
	}
	return lat, nil
}

// loadOne sends one query and waits for the reply with its ID.
func loadOne(conn *dns.Conn, fqdn string, deadline time.Time) error {
	m := new(dns.Msg).SetQuestion(fqdn, dns.TypeA)
	if err := conn.SetDeadline(deadline); err != nil {
		return err
	}
	if err := conn.WriteMsg(m); err != nil {
		return err
	}
	for {
		resp, err := conn.ReadMsg()
		if err != nil {
			return err
		}
		if resp.Id == m.Id { // else a late reply to a query that timed out
			return nil
		}
	}
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
