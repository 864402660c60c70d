package ipalloc

import (
	"context"
	"errors"
	"github.com/weavego/weavego/mesh"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSharedPoolAcrossHosts(t *testing.T) {
	ctx := context.Background()
	c := newTestCluster(t, 1, Config{}, "h1", "h2", "h3")
	const id = "10.7.0.0/24"
	for _, h := range []string{"h1", "h2", "h3"} {
		if p := mustPool(t, c.host(h), PoolRequest{Subnet: id}); p.Gateway.String() != "10.7.0.1/24" {
			t.Fatalf("%s: gateway %s", h, p.Gateway)
		}
	}
	seen := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, h := range []string{"h1", "h2", "h3"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				ip, err := c.host(h).RequestAddress(ctx, AddressRequest{PoolID: id})
				if err != nil {
					t.Errorf("%s: %v", h, err)
					return
				}
				mu.Lock()
				if other, dup := seen[ip.String()]; dup {
					t.Errorf("%s leased on %s and %s", ip, other, h)
				}
				seen[ip.String()] = h
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	c.settle()
	var h1ip string
	for ip, h := range seen {
		if h == "h1" {
			h1ip = strings.TrimSuffix(ip, "/24")
		}
	}
	_, err := c.host("h2").RequestAddress(ctx, AddressRequest{PoolID: id, IP: netip.MustParseAddr(h1ip)})
	if !errors.Is(err, ErrAddressInUse) || !strings.Contains(err.Error(), "in use on host h1") {
		t.Fatalf("static request of h1's address on h2: err = %v", err)
	}
	st := c.host("h1").Status()
	if len(st.Pools) != 1 || len(st.Pools[0].Hosts) != 3 {
		t.Fatalf("status: %+v", st)
	}
}

func TestStaticAddressFromOtherHost(t *testing.T) {
	ctx := context.Background()
	c := newTestCluster(t, 2, Config{}, "h1", "h2")
	const id = "10.7.0.0/24"
	mustPool(t, c.host("h1"), PoolRequest{Subnet: id})
	mustPool(t, c.host("h2"), PoolRequest{Subnet: id})
	got := mustAddr(t, c.host("h2"), AddressRequest{PoolID: id, IP: netip.MustParseAddr("10.7.0.200")})
	if got.String() != "10.7.0.200/24" {
		t.Fatalf("got %s", got)
	}
	c.settle()
	_, err := c.host("h1").RequestAddress(ctx, AddressRequest{PoolID: id, IP: netip.MustParseAddr("10.7.0.200")})
	if !errors.Is(err, ErrAddressInUse) || !strings.Contains(err.Error(), "host h2") {
		t.Fatalf("err = %v, want in use on host h2", err)
	}
}

func TestStarvedHostFailsWithinBound(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		partition bool
		wantText  string
	}{
		{name: "holder keeps its last block", wantText: "asked: h1; unreachable: none"},
		{name: "holder unreachable", partition: true, wantText: "asked: none; unreachable: h1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCluster(t, 3, Config{SpaceTimeout: 300 * time.Millisecond}, "h1", "h2")
			const id = "10.9.0.0/29" // two blocks of 4: .2 .3 | .4 .5 .6
			mustPool(t, c.host("h1"), PoolRequest{Subnet: id})
			mustPool(t, c.host("h2"), PoolRequest{Subnet: id})
			mustAddr(t, c.host("h1"), AddressRequest{PoolID: id})
			mustAddr(t, c.host("h1"), AddressRequest{PoolID: id})
			if tt.partition {
				c.net.Partition([]string{"h1"}, []string{"h2"})
			}
			start := time.Now()
			_, err := c.host("h2").RequestAddress(ctx, AddressRequest{PoolID: id})
			if !errors.Is(err, ErrNoSpace) || !strings.Contains(err.Error(), tt.wantText) || !strings.Contains(err.Error(), "range 10.9.0.0/29") {
				t.Fatalf("err = %v, want ErrNoSpace with %q", err, tt.wantText)
			}
			if d := time.Since(start); d > time.Second {
				t.Fatalf("took %s, bound is 300ms", d)
			}
		})
	}
}

func TestRangeMismatchRefused(t *testing.T) {
	c := newTestCluster(t, 4, Config{}, "h1")
	c.cfg.Range = "10.40.0.0/16"
	c.start("h2")
	c.settle()
	for _, h := range []string{"h1", "h2"} {
		_, err := c.host(h).RequestPool(context.Background(), PoolRequest{})
		if !errors.Is(err, ErrRangeMismatch) || !strings.Contains(err.Error(), "10.32.0.0/12") || !strings.Contains(err.Error(), "10.40.0.0/16") {
			t.Fatalf("%s: err = %v, want ErrRangeMismatch naming both ranges", h, err)
		}
		if len(c.host(h).Status().Problems) == 0 {
			t.Fatalf("%s: mismatch not in Status", h)
		}
	}
}

func TestConcurrentDefaultSubnets(t *testing.T) {
	c := newTestCluster(t, 5, Config{}, "h1", "h2", "h3", "h4", "h5")
	var mu sync.Mutex
	got := map[string]string{}
	var wg sync.WaitGroup
	for _, h := range []string{"h1", "h2", "h3", "h4", "h5"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := c.host(h).RequestPool(context.Background(), PoolRequest{})
			if err != nil {
				t.Errorf("%s: %v", h, err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if other, dup := got[p.ID]; dup {
				t.Errorf("subnet %s given to %s and %s", p.ID, other, h)
			}
			got[p.ID] = h
		}()
	}
	wg.Wait()
}

func TestRemovePeerTakesOverSpace(t *testing.T) {
	ctx := context.Background()
	c := newTestCluster(t, 6, Config{}, "h1", "h2")
	const id = "10.9.0.0/29"
	mustPool(t, c.host("h1"), PoolRequest{Subnet: id})
	mustPool(t, c.host("h2"), PoolRequest{Subnet: id})
	mustAddr(t, c.host("h2"), AddressRequest{PoolID: id}) // h2 now holds a block
	if err := c.host("h1").RemovePeer(ctx, "h2"); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("removing a reachable host: err = %v", err)
	}
	c.stop("h2")
	if err := c.host("h1").RemovePeer(ctx, "h2"); err != nil {
		t.Fatal(err)
	}
	for range 5 { // all 5 addresses, h2's included
		mustAddr(t, c.host("h1"), AddressRequest{PoolID: id})
	}
	st := c.host("h1").Status()
	if len(st.Pools) != 1 || len(st.Pools[0].Hosts) != 1 || st.Pools[0].Hosts[0].Owned != 5 {
		t.Fatalf("status after rmpeer: %+v", st)
	}
}

func TestRemovedHostThatReturnsReportsConflict(t *testing.T) {
	ctx := context.Background()
	c := newTestCluster(t, 7, Config{}, "h1", "h2")
	const id = "10.9.0.0/29"
	mustPool(t, c.host("h1"), PoolRequest{Subnet: id})
	mustPool(t, c.host("h2"), PoolRequest{Subnet: id})
	old := mustAddr(t, c.host("h2"), AddressRequest{PoolID: id})
	c.net.Partition([]string{"h1"}, []string{"h2"})
	if err := c.host("h1").RemovePeer(ctx, "h2"); err != nil { // the misuse the docs warn about
		t.Fatal(err)
	}
	c.net.Heal()
	c.settle()
	pr := strings.Join(c.host("h2").Status().Problems, "\n")
	if !strings.Contains(pr, "removed by rmpeer on host h1") || !strings.Contains(pr, "taken over") {
		t.Fatalf("problems on h2: %q", pr)
	}
	// h2 leases only from space handed to it again, never its old lease twice.
	if ip, err := c.host("h2").RequestAddress(ctx, AddressRequest{PoolID: id}); err == nil && ip.String() == old.String() {
		t.Fatalf("%s leased twice", ip)
	}
}

func TestStaticAddressLentByHolder(t *testing.T) {
	ctx := context.Background()
	c := newTestCluster(t, 8, Config{}, "h1", "h2")
	const id = "10.9.0.0/24" // blocks of 4: .0-.3 holds the gateway and h1's first lease
	mustPool(t, c.host("h1"), PoolRequest{Subnet: id})
	mustPool(t, c.host("h2"), PoolRequest{Subnet: id})
	mustAddr(t, c.host("h1"), AddressRequest{PoolID: id}) // 10.9.0.2
	got := mustAddr(t, c.host("h2"), AddressRequest{PoolID: id, IP: netip.MustParseAddr("10.9.0.3")})
	if got.String() != "10.9.0.3/24" {
		t.Fatalf("got %s", got)
	}
	c.settle()
	_, err := c.host("h1").RequestAddress(ctx, AddressRequest{PoolID: id, IP: netip.MustParseAddr("10.9.0.3")})
	if !errors.Is(err, ErrAddressInUse) || !strings.Contains(err.Error(), "host h2") {
		t.Fatalf("h1 asks for the lent address: err = %v", err)
	}
	if err := c.host("h2").ReleaseAddress(ctx, id, got.Addr()); err != nil {
		t.Fatal(err)
	}
	c.settle()
	c.settle() // h2's used entry must catch up too
	if ip := mustAddr(t, c.host("h1"), AddressRequest{PoolID: id, IP: netip.MustParseAddr("10.9.0.3")}); ip.String() != "10.9.0.3/24" {
		t.Fatalf("after return: got %s", ip)
	}
}

// The documented trade-off: the same pool created on both sides of a
// partition. Both sides lease; after healing one claim wins and the loser
// reports the leases that may collide instead of hiding them.
func TestPartitionedClaimsConflictReported(t *testing.T) {
	c := newTestCluster(t, 9, Config{}, "h1", "h2")
	const id = "10.9.0.0/24"
	c.net.Partition([]string{"h1"}, []string{"h2"})
	mustPool(t, c.host("h1"), PoolRequest{Subnet: id})
	mustPool(t, c.host("h2"), PoolRequest{Subnet: id})
	mustAddr(t, c.host("h1"), AddressRequest{PoolID: id})
	mustAddr(t, c.host("h2"), AddressRequest{PoolID: id})
	c.net.Heal()
	c.settle()
	var reported int
	for _, h := range []string{"h1", "h2"} {
		for _, pr := range c.host(h).Status().Problems {
			if strings.Contains(pr, "may collide") {
				reported++
			}
		}
	}
	if reported != 1 {
		t.Fatalf("want the losing host to report the conflict, got %d reports", reported)
	}
}

// An address lent on by the host that took the lender's space over (rmpeer)
// stays leased when the borrower itself takes that space over later: it
// becomes the borrower's own, and the block is not handed over as empty.
func TestBorrowedAddressOwnedAfterTakeoverChain(t *testing.T) {
	ctx := context.Background()
	c := newTestCluster(t, 10, Config{}, "h1", "h2", "h3")
	const id = "10.9.0.0/28" // blocks of 4: .0-.3 holds the gateway
	for _, h := range []string{"h1", "h2", "h3"} {
		mustPool(t, c.host(h), PoolRequest{Subnet: id})
	}
	mustAddr(t, c.host("h1"), AddressRequest{PoolID: id}) // 10.9.0.2
	mustAddr(t, c.host("h2"), AddressRequest{PoolID: id, IP: netip.MustParseAddr("10.9.0.3")})
	c.settle()
	for _, rm := range [][2]string{{"h1", "h3"}, {"h3", "h2"}} { // h3 lends .3 on, then h2 takes it all
		c.stop(rm[0])
		if err := c.host(rm[1]).RemovePeer(ctx, rm[0]); err != nil {
			t.Fatal(err)
		}
		c.settle()
	}
	c.start("h4")
	c.settle()
	mustPool(t, c.host("h4"), PoolRequest{Subnet: id})
	mustAddr(t, c.host("h4"), AddressRequest{PoolID: id, IP: netip.MustParseAddr("10.9.0.2")})
	c.settle()
	_, err := c.host("h4").RequestAddress(ctx, AddressRequest{PoolID: id, IP: netip.MustParseAddr("10.9.0.3")})
	if !errors.Is(err, ErrAddressInUse) || !strings.Contains(err.Error(), "host h2") {
		t.Fatalf("h4 asks for h2's address: err = %v", err)
	}
}

// An entry a host wrote at a version no real write reaches (a pin) is dropped everywhere once that host is
// removed with rmpeer.
func TestRemovePeerClearsPins(t *testing.T) {
	c := newTestCluster(t, 7, Config{}, "h1", "h2")
	pin := c.net.Peer("h2").SetAtLeast("pinned", "k", []byte("v"), mesh.MaxVersion)
	c.net.Sync()
	if e, ok := c.net.Peer("h1").Get("pinned", "k"); !ok || e.Version != pin.Version {
		t.Fatalf("h1 does not hold the pin: %+v", e)
	}
	c.stop("h2")
	if err := c.host("h1").RemovePeer(context.Background(), "h2"); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.net.Peer("h1").Get("pinned", "k"); ok {
		t.Error("h1 still holds the removed host's pin")
	}
}
