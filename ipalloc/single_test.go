package ipalloc

import (
	"context"
	"errors"
	"net/netip"
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
		{name: "v6 without subnet", req: PoolRequest{V6: true}, wantErr: ErrInvalidRequest},
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
