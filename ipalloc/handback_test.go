package ipalloc

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// A container started again after dockerd crashed asks with no preference;
// it gets back what was released under its name, or without a name (Docker
// 20.10) the address released last, and others avoid those addresses.
func TestHandBack(t *testing.T) {
	const id = "10.12.0.0/24"
	type step struct {
		release string // address to release first, or ""
		name    string // request under this name
		want    string
	}
	tests := []struct {
		name  string
		n     int  // addresses leased first: .2, .3, ...
		named bool // under the names c0, c1, ...
		steps []step
	}{
		{"unnamed, one container", 1, false, []step{
			{release: "10.12.0.2", want: "10.12.0.2"},
		}},
		{"unnamed, last released first", 5, false, []step{
			{release: "10.12.0.4", want: "10.12.0.4"},
			{release: "10.12.0.2"},
			{release: "10.12.0.5", want: "10.12.0.5"},
			{want: "10.12.0.2"},
		}},
		{"named, each its own; new names avoid them", 2, true, []step{
			{release: "10.12.0.2"}, // leased as "c0"
			{release: "10.12.0.3"}, // "c1"
			{name: "new", want: "10.12.0.4"},
			{name: "c1", want: "10.12.0.3"},
			{name: "c0", want: "10.12.0.2"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _ := soloAllocator(t)
			mustPool(t, a, PoolRequest{Subnet: id})
			for i := range tt.n {
				name := ""
				if tt.named {
					name = fmt.Sprintf("c%d", i)
				}
				mustAddr(t, a, AddressRequest{PoolID: id, Name: name})
			}
			for i, s := range tt.steps {
				if s.release != "" {
					if err := a.ReleaseAddress(context.Background(), id, netip.MustParseAddr(s.release)); err != nil {
						t.Fatal(err)
					}
				}
				if s.want == "" {
					continue
				}
				if got := mustAddr(t, a, AddressRequest{PoolID: id, Name: s.name}); got.Addr().String() != s.want {
					t.Fatalf("step %d: request named %q got %s, want %s", i, s.name, got.Addr(), s.want)
				}
			}
		})
	}
}

// An address is handed back only while this host may lease it: not once
// handBackFor passed (it is then an address like any other), never when it
// was leased again meanwhile.
func TestHandBackLimits(t *testing.T) {
	const id = "10.12.0.0/24"
	a, _ := soloAllocator(t)
	mustPool(t, a, PoolRequest{Subnet: id})
	for range 3 { // .2 .3 .4
		mustAddr(t, a, AddressRequest{PoolID: id})
	}
	ctx := context.Background()
	if err := a.ReleaseAddress(ctx, id, netip.MustParseAddr("10.12.0.3")); err != nil {
		t.Fatal(err)
	}
	mustAddr(t, a, AddressRequest{PoolID: id, IP: netip.MustParseAddr("10.12.0.3")}) // taken by number
	if got := mustAddr(t, a, AddressRequest{PoolID: id}); got.Addr().String() != "10.12.0.5" {
		t.Fatalf("got %s after the released address was leased again, want 10.12.0.5", got.Addr())
	}
	if err := a.ReleaseAddress(ctx, id, netip.MustParseAddr("10.12.0.4")); err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	p := a.pools[id]
	r := p.recent[netip.MustParseAddr("10.12.0.4")]
	r.At = r.At.Add(-handBackFor)
	p.recent[netip.MustParseAddr("10.12.0.4")] = r
	a.mu.Unlock()
	if got := mustAddr(t, a, AddressRequest{PoolID: id, Name: "other"}); got.Addr().String() != "10.12.0.4" {
		t.Fatalf("got %s once the release was %s old, want the first free 10.12.0.4", got.Addr(), time.Duration(handBackFor))
	}
	if n := len(p.recent); n != 0 {
		t.Fatalf("%d addresses still remembered", n)
	}
}
