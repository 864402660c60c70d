package ipalloc

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// reserveOf returns the reserve host h reports for itself in pool id.
func reserveOf(a *Allocator, id string) uint64 {
	for _, p := range a.Status().Pools {
		for _, s := range p.Hosts {
			if p.ID == id && s.Host == a.name {
				return s.Reserve
			}
		}
	}
	return 0
}

// waitReserve waits until each host reports a reserve of at least n in id.
func waitReserve(t *testing.T, c *testCluster, id string, n uint64, hosts ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for _, h := range hosts {
		for reserveOf(c.host(h), id) < n {
			if time.Now().After(deadline) {
				t.Fatalf("%s: reserve %d in %s, want at least %d", h, reserveOf(c.host(h), id), id, n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// The scenario of issue 11: net1 created on h1, opened on h2 and h3, then h1
// cut off. Every side keeps leasing from its reserve, at once, and after
// the heal no address is leased twice.
func TestReserveKeepsBothSidesLeasing(t *testing.T) {
	c := newTestCluster(t, 21, Config{SpaceTimeout: time.Second}, "h1", "h2", "h3")
	const id = "10.11.0.0/24"
	hosts := []string{"h1", "h2", "h3"}
	for _, h := range hosts {
		mustPool(t, c.host(h), PoolRequest{Subnet: id})
	}
	waitReserve(t, c, id, 4, "h2", "h3") // one block of 4, before any container
	c.net.Partition([]string{"h1"}, []string{"h2", "h3"})
	seen := map[string]string{}
	for _, h := range hosts {
		for i := range 4 {
			start := time.Now()
			ip := mustAddr(t, c.host(h), AddressRequest{PoolID: id})
			if d := time.Since(start); d > 100*time.Millisecond {
				t.Errorf("%s: lease %d took %s while cut off: not from its reserve", h, i, d)
			}
			if other, dup := seen[ip.String()]; dup {
				t.Fatalf("%s leased on %s and %s", ip, other, h)
			}
			seen[ip.String()] = h
		}
	}
	c.net.Heal()
	c.settle()
	for _, h := range hosts {
		if pr := c.host(h).Status().Problems; len(pr) > 0 {
			t.Errorf("%s reports problems after the heal: %v", h, pr)
		}
	}
	waitReserve(t, c, id, 4, hosts...) // refilled after the heal
}

// When a pool is short, reserves go where containers start: a host with no
// spare space anywhere still gets every address, the others' reserves
// included, and each request is answered within the space timeout.
func TestReserveGivenToWaitingRequest(t *testing.T) {
	c := newTestCluster(t, 22, Config{SpaceTimeout: time.Second}, "h1", "h2", "h3")
	const id = "10.11.0.0/28" // 13 addresses in 4 blocks
	for _, h := range []string{"h1", "h2", "h3"} {
		mustPool(t, c.host(h), PoolRequest{Subnet: id})
	}
	waitReserve(t, c, id, 3, "h2") // a block, the one with the broadcast address
	seen := map[string]bool{}
	for i := range 13 {
		ip, err := c.host("h3").RequestAddress(context.Background(), AddressRequest{PoolID: id})
		if err != nil {
			t.Fatalf("lease %d on h3: %v (status %+v)", i, err, c.host("h3").Status())
		}
		if seen[ip.String()] {
			t.Fatalf("%s leased twice", ip)
		}
		seen[ip.String()] = true
	}
	c.settle()
	_, err := c.host("h3").RequestAddress(context.Background(), AddressRequest{PoolID: id})
	if !errors.Is(err, ErrPoolExhausted) {
		t.Fatalf("14th address: err = %v, want ErrPoolExhausted", err)
	}
}

func TestReserveShownInStatus(t *testing.T) {
	c := newTestCluster(t, 23, Config{}, "h1", "h2")
	const id = "10.11.0.0/24"
	mustPool(t, c.host("h1"), PoolRequest{Subnet: id})
	mustPool(t, c.host("h2"), PoolRequest{Subnet: id})
	waitReserve(t, c, id, 4, "h2")
	c.settle()
	var got []string
	for _, p := range c.host("h1").Status().Pools {
		for _, s := range p.Hosts {
			got = append(got, fmt.Sprintf("%s:%d", s.Host, s.Reserve))
		}
	}
	if len(got) != 2 || got[0] != "h1:246" || got[1] != fmt.Sprintf("h2:%d", reserveOf(c.host("h2"), id)) {
		t.Fatalf("h1's status shows reserves %v", got)
	}
}
