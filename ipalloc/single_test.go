package ipalloc

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
)

func TestRequestPool(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		before  []PoolRequest // opened first
		req     PoolRequest
		wantID  string
		wantGW  string
		wantRng string
		wantErr error
	}{
		{name: "explicit subnet", req: PoolRequest{Subnet: "10.1.0.0/24"}, wantID: "10.1.0.0/24", wantGW: "10.1.0.1/24"},
		{name: "unmasked subnet", req: PoolRequest{Subnet: "10.1.0.9/24"}, wantID: "10.1.0.0/24", wantGW: "10.1.0.1/24"},
		{name: "ip range", req: PoolRequest{Subnet: "10.1.0.0/24", IPRange: "10.1.0.128/25"}, wantID: "10.1.0.0/24", wantGW: "10.1.0.1/24", wantRng: "10.1.0.128/25"},
		{name: "same request again", before: []PoolRequest{{Subnet: "10.1.0.0/24"}}, req: PoolRequest{Subnet: "10.1.0.0/24"}, wantID: "10.1.0.0/24", wantGW: "10.1.0.1/24"},
		{name: "default subnet", req: PoolRequest{}, wantID: "10.32.0.0/24", wantGW: "10.32.0.1/24"},
		{name: "default skips used", before: []PoolRequest{{}, {Subnet: "10.32.1.0/25"}}, req: PoolRequest{}, wantID: "10.32.2.0/24", wantGW: "10.32.2.1/24"},
		{name: "ipv6", req: PoolRequest{Subnet: "fd00:1::/64", V6: true}, wantID: "fd00:1::/64", wantGW: "fd00:1::1/64"},
		{name: "overlap", before: []PoolRequest{{Subnet: "10.1.0.0/16"}}, req: PoolRequest{Subnet: "10.1.2.0/24"}, wantErr: ErrPoolOverlap},
		{name: "same subnet other range", before: []PoolRequest{{Subnet: "10.1.0.0/24"}}, req: PoolRequest{Subnet: "10.1.0.0/24", IPRange: "10.1.0.0/25"}, wantErr: ErrPoolOverlap},
		{name: "bad subnet", req: PoolRequest{Subnet: "10.1.0.0"}, wantErr: ErrInvalidRequest},
		{name: "range outside subnet", req: PoolRequest{Subnet: "10.1.0.0/24", IPRange: "10.2.0.0/25"}, wantErr: ErrInvalidRequest},
		{name: "v6 flag on v4 subnet", req: PoolRequest{Subnet: "10.1.0.0/24", V6: true}, wantErr: ErrInvalidRequest},
		{name: "v6 without subnet", req: PoolRequest{V6: true}, wantID: "fd77:6561:7665::/64", wantGW: "fd77:6561:7665::1/64"},
		{name: "v6 default skips used", before: []PoolRequest{{V6: true}, {Subnet: "fd77:6561:7665:100::/56", V6: true}, {Subnet: "fd77:6561:7665:1::/120", V6: true}},
			req: PoolRequest{V6: true}, wantID: "fd77:6561:7665:2::/64", wantGW: "fd77:6561:7665:2::1/64"},
		{name: "v6 default skips a larger pool", before: []PoolRequest{{Subnet: "fd77:6561:7665::/56", V6: true}},
			req: PoolRequest{V6: true}, wantID: "fd77:6561:7665:100::/64", wantGW: "fd77:6561:7665:100::1/64"},
		{name: "v6 default and v4 default apart", before: []PoolRequest{{}}, req: PoolRequest{V6: true}, wantID: "fd77:6561:7665::/64", wantGW: "fd77:6561:7665::1/64"},
		{name: "ip range without subnet", req: PoolRequest{IPRange: "10.32.0.0/25"}, wantErr: ErrInvalidRequest},
		{name: "subnet too small", req: PoolRequest{Subnet: "10.1.0.0/31"}, wantErr: ErrInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _ := soloAllocator(t)
			for _, r := range tt.before {
				mustPool(t, a, r)
			}
			p, err := a.RequestPool(ctx, tt.req)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			rng := ""
			if p.IPRange.IsValid() {
				rng = p.IPRange.String()
			}
			if p.ID != tt.wantID || p.Subnet.String() != tt.wantID || p.Gateway.String() != tt.wantGW || rng != tt.wantRng {
				t.Fatalf("pool = %s %s gw %s range %q, want %s gw %s range %q", p.ID, p.Subnet, p.Gateway, rng, tt.wantID, tt.wantGW, tt.wantRng)
			}
		})
	}
}

func TestPoolRefcount(t *testing.T) {
	ctx := context.Background()
	a, _ := soloAllocator(t)
	mustPool(t, a, PoolRequest{Subnet: "10.1.0.0/24"})
	mustPool(t, a, PoolRequest{Subnet: "10.1.0.0/24"})
	if err := a.ReleasePool(ctx, "10.1.0.0/24"); err != nil {
		t.Fatal(err)
	}
	mustAddr(t, a, AddressRequest{PoolID: "10.1.0.0/24"}) // still open: one reference left
	if err := a.ReleasePool(ctx, "10.1.0.0/24"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.RequestAddress(ctx, AddressRequest{PoolID: "10.1.0.0/24"}); !errors.Is(err, ErrUnknownPool) {
		t.Fatalf("after last release: err = %v, want ErrUnknownPool", err)
	}
	if err := a.ReleasePool(ctx, "10.1.0.0/24"); !errors.Is(err, ErrUnknownPool) {
		t.Fatalf("release again: err = %v, want ErrUnknownPool", err)
	}
	// The subnet is free again: an overlapping pool is now accepted.
	mustPool(t, a, PoolRequest{Subnet: "10.1.0.0/16"})
}

// step is one call in an address scenario.
type step struct {
	req     AddressRequest
	release string // if set, release this address instead
	want    string // address returned, CIDR form
	wantErr error
	errText string // substring of the error
}

func TestRequestAddress(t *testing.T) {
	const id = "10.99.0.0/29"
	any := AddressRequest{PoolID: id}
	ip := func(s string) AddressRequest { return AddressRequest{PoolID: id, IP: netip.MustParseAddr(s)} }
	gw := func(s string) AddressRequest {
		ip, _ := netip.ParseAddr(s) // "" is any
		return AddressRequest{PoolID: id, IP: ip, Gateway: true}
	}
	tests := []struct {
		name  string
		pool  PoolRequest
		steps []step
	}{
		{name: "any then exhausted", pool: PoolRequest{Subnet: id}, steps: []step{
			{req: any, want: "10.99.0.2/29"}, {req: any, want: "10.99.0.3/29"}, {req: any, want: "10.99.0.4/29"},
			{req: any, want: "10.99.0.5/29"}, {req: any, want: "10.99.0.6/29"},
			{req: any, wantErr: ErrPoolExhausted, errText: "pool 10.99.0.0/29 is exhausted: all 5 addresses are in use"},
		}},
		{name: "release and reuse", pool: PoolRequest{Subnet: id}, steps: []step{
			{req: any, want: "10.99.0.2/29"}, {req: any, want: "10.99.0.3/29"},
			{release: "10.99.0.2"}, {release: "10.99.0.2"}, {req: any, want: "10.99.0.2/29"},
		}},
		{name: "static", pool: PoolRequest{Subnet: id}, steps: []step{
			{req: ip("10.99.0.5"), want: "10.99.0.5/29"},
			{req: ip("10.99.0.5"), wantErr: ErrAddressInUse, errText: "address 10.99.0.5 is already in use on host h1"},
			{req: ip("10.99.0.1"), wantErr: ErrAddressInUse, errText: "gateway"},
			{req: ip("10.99.0.0"), wantErr: ErrOutOfPool}, {req: ip("10.99.0.7"), wantErr: ErrOutOfPool},
			{req: ip("10.99.1.2"), wantErr: ErrOutOfPool, errText: "outside the range 10.99.0.0/29"},
		}},
		{name: "ip range", pool: PoolRequest{Subnet: "10.99.0.0/24", IPRange: "10.99.0.16/30"}, steps: []step{
			{req: AddressRequest{PoolID: "10.99.0.0/24"}, want: "10.99.0.16/24"},
			{req: AddressRequest{PoolID: "10.99.0.0/24", IP: netip.MustParseAddr("10.99.0.20")}, wantErr: ErrOutOfPool},
			{req: AddressRequest{PoolID: "10.99.0.0/24"}, want: "10.99.0.17/24"},
			{req: AddressRequest{PoolID: "10.99.0.0/24"}, want: "10.99.0.18/24"},
			{req: AddressRequest{PoolID: "10.99.0.0/24"}, want: "10.99.0.19/24"},
			{req: AddressRequest{PoolID: "10.99.0.0/24"}, wantErr: ErrPoolExhausted},
		}},
		{name: "default gateway", pool: PoolRequest{Subnet: id}, steps: []step{
			{req: gw(""), want: "10.99.0.1/29"}, {req: gw("10.99.0.1"), want: "10.99.0.1/29"}, {req: any, want: "10.99.0.2/29"},
		}},
		{name: "specific gateway frees the default", pool: PoolRequest{Subnet: id}, steps: []step{
			{req: gw("10.99.0.6"), want: "10.99.0.6/29"},
			{req: ip("10.99.0.1"), want: "10.99.0.1/29"},
			{req: ip("10.99.0.6"), wantErr: ErrAddressInUse},
			{req: gw("10.99.0.7"), wantErr: ErrOutOfPool},
		}},
		{name: "unknown pool", pool: PoolRequest{Subnet: id}, steps: []step{
			{req: AddressRequest{PoolID: "10.98.0.0/24"}, wantErr: ErrUnknownPool},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _ := soloAllocator(t)
			mustPool(t, a, tt.pool)
			for i, s := range tt.steps {
				runStep(t, a, i, s)
			}
		})
	}
}

func runStep(t *testing.T, a *Allocator, i int, s step) {
	t.Helper()
	ctx := context.Background()
	if s.release != "" {
		if err := a.ReleaseAddress(ctx, "10.99.0.0/29", netip.MustParseAddr(s.release)); err != nil {
			t.Fatalf("step %d: release %s: %v", i, s.release, err)
		}
		return
	}
	got, err := a.RequestAddress(ctx, s.req)
	if !errors.Is(err, s.wantErr) || (err != nil && !strings.Contains(err.Error(), s.errText)) {
		t.Fatalf("step %d: err = %v, want %v containing %q", i, err, s.wantErr, s.errText)
	}
	if err == nil && got.String() != s.want {
		t.Fatalf("step %d: got %s, want %s", i, got, s.want)
	}
}

func TestCheckRange6(t *testing.T) {
	for _, tc := range []struct {
		r    string
		want string // substring of the error; "" = accepted
	}{
		{DefaultRange6, ""},
		{"fd00::/64", ""},
		{"2001:db8::/32", ""},
		{"fd00::/65", "smaller than the /64"},
		{"fe80::/16", "link-local"},
		{"10.0.0.0/8", "not an IPv6 subnet"},
		{"fd00::", "not an IPv6 CIDR"},
		{"fd00::/0x", "not an IPv6 CIDR"},
		{"fd00::1/48", "host bits"},
	} {
		err := CheckRange6(tc.r)
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("CheckRange6(%q) = %v, want %q", tc.r, err, tc.want)
		}
	}
}

func TestDefaultPool6Exhausted(t *testing.T) {
	ctx := context.Background()
	a, err := New(Config{Range6: "fd00:5::/63"}, openDB(t, filepath.Join(t.TempDir(), "state.db")), solo("h1"))
	if err != nil {
		t.Fatal(err)
	}
	mustPool(t, a, PoolRequest{V6: true})
	mustPool(t, a, PoolRequest{V6: true})
	if _, err := a.RequestPool(ctx, PoolRequest{V6: true}); !errors.Is(err, ErrPoolExhausted) || !strings.Contains(err.Error(), "IPALLOC_RANGE6 fd00:5::/63") {
		t.Fatalf("third /64 of a /63: err = %v, want ErrPoolExhausted naming IPALLOC_RANGE6", err)
	}
}

// TestStaticAddress6 checks that --ip6 follows the rules of --ip: the
// address asked for, once, and not the gateway.
func TestStaticAddress6(t *testing.T) {
	ctx := context.Background()
	a, _ := soloAllocator(t)
	p := mustPool(t, a, PoolRequest{V6: true})
	ip := netip.MustParseAddr("fd77:6561:7665::42")
	got := mustAddr(t, a, AddressRequest{PoolID: p.ID, IP: ip})
	if got.Addr() != ip || got.Bits() != 64 {
		t.Fatalf("static address = %s, want %s/64", got, ip)
	}
	if _, err := a.RequestAddress(ctx, AddressRequest{PoolID: p.ID, IP: ip}); !errors.Is(err, ErrAddressInUse) {
		t.Fatalf("same address again: err = %v, want ErrAddressInUse", err)
	}
	if _, err := a.RequestAddress(ctx, AddressRequest{PoolID: p.ID, IP: p.Gateway.Addr()}); !errors.Is(err, ErrAddressInUse) {
		t.Fatalf("the gateway: err = %v, want ErrAddressInUse", err)
	}
	if _, err := a.RequestAddress(ctx, AddressRequest{PoolID: p.ID, IP: netip.MustParseAddr("fd77:6561:7666::1")}); err == nil {
		t.Fatal("an address outside the pool was leased")
	}
	if _, err := a.RequestAddress(ctx, AddressRequest{PoolID: p.ID, IP: netip.MustParseAddr("fd77:6561:7665:0:1::5")}); !errors.Is(err, ErrOutOfPool) ||
		!strings.Contains(err.Error(), "fd77:6561:7665:: to fd77:6561:7665::ffff:ffff") {
		t.Fatalf("an address beyond the first 2^32 of the /64: err = %v", err)
	}
	any := mustAddr(t, a, AddressRequest{PoolID: p.ID})
	if !p.Subnet.Contains(any.Addr()) || any.Addr() == ip || any.Addr() == p.Gateway.Addr() {
		t.Fatalf("any address = %s", any)
	}
}
