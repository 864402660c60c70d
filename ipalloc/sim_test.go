package ipalloc

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"
)

var simLong = flag.Bool("ipalloc.long", false, "run the long randomized cluster simulation")

// TestSimulation drives five hosts (and later joiners) through random
// allocations, releases, partitions, heals, kill -9 restarts, message loss
// and RemovePeer, and checks after every step that no address is leased
// twice, no block is held twice, and no host lost a lease.
func TestSimulation(t *testing.T) {
	steps, seeds := 120, []uint64{1, 2}
	if *simLong {
		steps, seeds = 2000, []uint64{1, 2, 3, 4, 5, 6, 7, 8}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { runSimulation(t, seed, steps) })
	}
}

type sim struct {
	t      *testing.T
	c      *testCluster
	rnd    *rand.Rand
	pools  []string
	live   []string                         // hosts up (possibly partitioned)
	leases map[string]map[netip.Addr]string // pool -> address -> host (the model)
	next   int                              // for names of joining hosts
	stats  map[string]int
}

func runSimulation(t *testing.T, seed uint64, steps int) {
	names := []string{"h1", "h2", "h3", "h4", "h5"}
	s := &sim{t: t, rnd: rand.New(rand.NewPCG(seed, 7)), live: slices.Clone(names), leases: map[string]map[netip.Addr]string{}, next: 6, stats: map[string]int{}}
	s.c = newTestCluster(t, seed, Config{SpaceTimeout: 150 * time.Millisecond}, names...)
	def := mustPool(t, s.c.host("h1"), PoolRequest{})
	s.pools = []string{"10.7.0.0/26", def.ID}
	for _, h := range names {
		for _, id := range s.pools {
			mustPool(t, s.c.host(h), PoolRequest{Subnet: id})
		}
	}
	for _, id := range s.pools {
		s.leases[id] = map[netip.Addr]string{}
	}
	for i := range steps {
		op := s.step()
		s.check(fmt.Sprintf("step %d (%s)", i, op))
	}
	t.Logf("seed %d: %v; live leases %d, %d", seed, s.stats, len(s.leases[s.pools[0]]), len(s.leases[s.pools[1]]))
}

// step performs one random operation and names it.
func (s *sim) step() string {
	if s.rnd.IntN(2) == 0 {
		s.c.net.Sync()
	}
	switch r := s.rnd.IntN(100); {
	case r < 40:
		return s.allocBurst()
	case r < 50:
		return s.allocStatic()
	case r < 75:
		return s.release()
	case r < 82:
		s.stats["partition"]++
		return s.partition()
	case r < 88:
		s.c.net.Heal()
		return "heal"
	case r < 93:
		s.stats["restart"]++
		return s.restart()
	case r < 95:
		s.stats["remove/join"]++
		return s.remove()
	case r < 97:
		s.stats["reopen"]++
		return s.reopen()
	default:
		s.c.net.SetLoss([]float64{0, 0, 0.3}[s.rnd.IntN(3)])
		return "loss"
	}
}

// allocBurst has one to three hosts allocate at the same time.
func (s *sim) allocBurst() string {
	var wg sync.WaitGroup
	var mu sync.Mutex
	n := 1 + s.rnd.IntN(3)
	id := s.pools[s.rnd.IntN(len(s.pools))]
	for range n {
		h := s.live[s.rnd.IntN(len(s.live))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			ip, err := s.c.host(h).RequestAddress(context.Background(), AddressRequest{PoolID: id})
			mu.Lock()
			defer mu.Unlock()
			s.count("alloc", err)
			if err == nil {
				s.record(id, ip.Addr(), h)
			}
		}()
	}
	wg.Wait()
	return fmt.Sprintf("alloc x%d in %s", n, id)
}

func (s *sim) allocStatic() string {
	id := s.pools[s.rnd.IntN(len(s.pools))]
	h := s.live[s.rnd.IntN(len(s.live))]
	pfx := netip.MustParsePrefix(id)
	ip := addAddr(pfx.Addr(), uint64(1+s.rnd.IntN(60)))
	got, err := s.c.host(h).RequestAddress(context.Background(), AddressRequest{PoolID: id, IP: ip})
	s.count("static", err)
	if err == nil {
		s.record(id, got.Addr(), h)
	}
	return fmt.Sprintf("static %s on %s: %v", ip, h, err)
}

// count tallies outcomes by sentinel error.
func (s *sim) count(op string, err error) {
	out := "ok"
	for _, e := range []error{ErrNoSpace, ErrPoolExhausted, ErrAddressInUse, ErrOutOfPool} {
		if errors.Is(err, e) {
			out = e.Error()
		}
	}
	if err != nil && out == "ok" {
		s.t.Fatalf("%s: unexpected error %v", op, err)
	}
	s.stats[op+" "+out]++
}

func (s *sim) record(id string, a netip.Addr, h string) {
	if other, dup := s.leases[id][a]; dup {
		s.t.Fatalf("address %s of %s leased to %s while %s holds it", a, id, h, other)
	}
	s.leases[id][a] = h
}

func (s *sim) release() string {
	id := s.pools[s.rnd.IntN(len(s.pools))]
	var all []netip.Addr
	for a := range s.leases[id] {
		all = append(all, a)
	}
	if len(all) == 0 {
		return "release (none)"
	}
	slices.SortFunc(all, netip.Addr.Compare)
	a := all[s.rnd.IntN(len(all))]
	h := s.leases[id][a]
	if err := s.c.host(h).ReleaseAddress(context.Background(), id, a); err != nil {
		s.t.Fatalf("release %s on %s: %v", a, h, err)
	}
	delete(s.leases[id], a)
	return fmt.Sprintf("release %s on %s", a, h)
}

func (s *sim) partition() string {
	hosts := slices.Clone(s.live)
	s.rnd.Shuffle(len(hosts), func(i, j int) { hosts[i], hosts[j] = hosts[j], hosts[i] })
	k := 1 + s.rnd.IntN(len(hosts)-1)
	s.c.net.Heal()
	s.c.net.Partition(hosts[:k], hosts[k:])
	return fmt.Sprintf("partition %v | %v", hosts[:k], hosts[k:])
}

// restart kills a host (kill -9: its replica forgets, bbolt keeps) and
// starts it again.
func (s *sim) restart() string {
	h := s.live[s.rnd.IntN(len(s.live))]
	s.c.stop(h)
	s.c.start(h)
	return "restart " + h
}

// remove kills a host for good and has another remove it; sometimes a new
// host joins and opens the pools.
func (s *sim) remove() string {
	if len(s.live) <= 3 {
		return s.join()
	}
	i := s.rnd.IntN(len(s.live))
	gone := s.live[i]
	s.live = slices.Delete(s.live, i, i+1)
	s.c.stop(gone)
	for _, id := range s.pools {
		for a, h := range s.leases[id] {
			if h == gone {
				delete(s.leases[id], a)
			}
		}
	}
	s.c.net.Heal()
	by := s.live[s.rnd.IntN(len(s.live))]
	if err := s.c.host(by).RemovePeer(context.Background(), gone); err != nil {
		s.t.Fatalf("rmpeer %s on %s: %v", gone, by, err)
	}
	return fmt.Sprintf("rmpeer %s on %s", gone, by)
}

// reopen has a host release its leases and the pool (as when Docker
// deletes the network), then create it again.
func (s *sim) reopen() string {
	ctx := context.Background()
	id := s.pools[s.rnd.IntN(len(s.pools))]
	h := s.live[s.rnd.IntN(len(s.live))]
	for a, owner := range s.leases[id] {
		if owner == h {
			if err := s.c.host(h).ReleaseAddress(ctx, id, a); err != nil {
				s.t.Fatalf("release %s on %s: %v", a, h, err)
			}
			delete(s.leases[id], a)
		}
	}
	if err := s.c.host(h).ReleasePool(ctx, id); err != nil {
		s.t.Fatalf("release pool %s on %s: %v", id, h, err)
	}
	_, err := s.c.host(h).RequestPool(ctx, PoolRequest{Subnet: id})
	if err != nil && !errors.Is(err, ErrNoSpace) {
		s.t.Fatalf("reopen pool %s on %s: %v", id, h, err)
	}
	for err != nil { // a claim unconfirmed in a partition: retry once healed
		s.c.net.Heal()
		_, err = s.c.host(h).RequestPool(ctx, PoolRequest{Subnet: id})
	}
	return fmt.Sprintf("reopen %s on %s", id, h)
}

func (s *sim) join() string {
	h := fmt.Sprintf("h%d", s.next)
	s.next++
	s.c.net.Heal()
	a := s.c.start(h)
	s.c.settle()
	for _, id := range s.pools {
		mustPool(s.t, a, PoolRequest{Subnet: id})
	}
	s.live = append(s.live, h)
	return "join " + h
}

// check verifies the invariants on the hosts' real state, a snapshot taken
// with every live host's lock held (in name order; nothing else holds two):
// the Run loops hand blocks over in the background, so hosts checked one
// after the other could show a block before and after a handover.
func (s *sim) check(step string) {
	live := slices.Sorted(slices.Values(s.live))
	for _, h := range live {
		s.c.host(h).mu.Lock()
	}
	var msg string
	for _, id := range s.pools {
		if msg = s.checkPool(id); msg != "" {
			break
		}
	}
	for _, h := range live {
		s.c.host(h).mu.Unlock()
	}
	if msg != "" {
		s.t.Fatalf("%s: %s", step, msg)
	}
	for _, h := range s.live {
		if pr := s.c.host(h).Status().Problems; len(pr) > 0 {
			s.t.Fatalf("%s: host %s reports problems: %v", step, h, pr)
		}
	}
}

// checkPool returns what is wrong with pool id across the live hosts,
// whose locks the caller holds.
func (s *sim) checkPool(id string) string {
	addrs := map[netip.Addr]string{}
	blocks := map[string]string{}
	for _, h := range s.live {
		if msg := s.collect(h, id, addrs, blocks); msg != "" {
			return msg
		}
	}
	for ip, h := range s.leases[id] {
		if addrs[ip] != h {
			return fmt.Sprintf("lease %s of %s on %s lost (now %q)", ip, id, h, addrs[ip])
		}
		if msg := s.checkBorrowed(h, id, ip); msg != "" {
			return msg
		}
	}
	return ""
}

// checkBorrowed checks that an address h borrowed is still lent to h by its
// lender, if that lender is live.
func (s *sim) checkBorrowed(h, id string, ip netip.Addr) string {
	from := s.c.host(h).pools[id].leases[ip].From
	lender := s.c.host(from)
	if from == "" || lender == nil || !slices.Contains(s.live, from) {
		return ""
	}
	if p := lender.pools[id]; p == nil || p.leases[ip].Lent != h {
		return fmt.Sprintf("%s borrowed %s of %s from %s, which does not lend it", h, ip, id, from)
	}
	return ""
}

// collect adds host h's leases (borrowed ones count for the borrower, not
// the lender) and held blocks of pool id, reporting any duplicate.
func (s *sim) collect(h, id string, addrs map[netip.Addr]string, blocks map[string]string) string {
	p := s.c.host(h).pools[id]
	for ip, l := range p.leases {
		if l.Lent != "" {
			continue
		}
		if other, dup := addrs[ip]; dup {
			return fmt.Sprintf("address %s of %s leased on %s and %s", ip, id, other, h)
		}
		addrs[ip] = h
	}
	for b, r := range p.ledger {
		k := fmt.Sprint(p.rec.Info.Nonce, b)
		if other, dup := blocks[k]; r.Held && dup {
			return fmt.Sprintf("block %d of %s held by %s and %s", b, id, other, h)
		} else if r.Held {
			blocks[k] = h
		}
	}
	return ""
}
