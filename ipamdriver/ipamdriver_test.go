package ipamdriver

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/docker/go-plugins-helpers/ipam"

	"github.com/weavego/weavego/ipalloc"
)

// fakeAlloc records what the driver asked for and answers with err, or a fixed pool and address.
type fakeAlloc struct {
	err      error
	pools    []ipalloc.PoolRequest
	addrs    []ipalloc.AddressRequest
	released []string
	unbound  int // calls whose context had no deadline
}

func (f *fakeAlloc) called(ctx context.Context) {
	if _, ok := ctx.Deadline(); !ok {
		f.unbound++
	}
}

func (f *fakeAlloc) RequestPool(ctx context.Context, req ipalloc.PoolRequest) (ipalloc.Pool, error) {
	f.called(ctx)
	f.pools = append(f.pools, req)
	if f.err != nil {
		return ipalloc.Pool{}, f.err
	}
	return ipalloc.Pool{ID: "10.32.1.0/24", Subnet: netip.MustParsePrefix("10.32.1.0/24"),
		Gateway: netip.MustParsePrefix("10.32.1.1/24")}, nil
}

func (f *fakeAlloc) ReleasePool(ctx context.Context, id string) error {
	f.called(ctx)
	f.released = append(f.released, "pool "+id)
	return f.err
}

func (f *fakeAlloc) RequestAddress(ctx context.Context, req ipalloc.AddressRequest) (netip.Prefix, error) {
	f.called(ctx)
	f.addrs = append(f.addrs, req)
	if f.err != nil {
		return netip.Prefix{}, f.err
	}
	return netip.MustParsePrefix("10.32.1.7/24"), nil
}

func (f *fakeAlloc) ReleaseAddress(ctx context.Context, poolID string, ip netip.Addr) error {
	f.called(ctx)
	f.released = append(f.released, poolID+" "+ip.String())
	return f.err
}

func newTestDriver(f *fakeAlloc) *Driver {
	return New(Config{Timeout: time.Second}, f)
}

func TestRequestPool(t *testing.T) {
	tests := []struct {
		name     string
		req      ipam.RequestPoolRequest
		err      error
		wantErr  string
		wantCall *ipalloc.PoolRequest
	}{
		{name: "fresh subnet", req: ipam.RequestPoolRequest{}, wantCall: &ipalloc.PoolRequest{}},
		{name: "subnet and ip-range", req: ipam.RequestPoolRequest{Pool: "10.9.0.0/16", SubPool: "10.9.1.0/24"},
			wantCall: &ipalloc.PoolRequest{Subnet: "10.9.0.0/16", IPRange: "10.9.1.0/24"}},
		{name: "loopback refused", req: ipam.RequestPoolRequest{Pool: "127.0.0.0/24"},
			wantErr: "subnet 127.0.0.0/24 is loopback: weavego networks need unicast space; pick another subnet"},
		{name: "link-local refused", req: ipam.RequestPoolRequest{Pool: "169.254.0.0/24"}, wantErr: "link-local"},
		{name: "metadata subnet refused", req: ipam.RequestPoolRequest{Pool: "169.254.169.0/24"}, wantErr: "link-local"},
		{name: "multicast refused", req: ipam.RequestPoolRequest{Pool: "224.1.0.0/24"}, wantErr: "multicast"},
		{name: "reserved refused", req: ipam.RequestPoolRequest{Pool: "240.0.0.0/24"}, wantErr: "reserved"},
		{name: "too large refused", req: ipam.RequestPoolRequest{Pool: "10.0.0.0/7"}, wantErr: "/8 to /30"},
		{name: "unmasked subnet checked masked", req: ipam.RequestPoolRequest{Pool: "127.0.0.5/24"}, wantErr: "loopback"},
		{name: "ip-range outside refused", req: ipam.RequestPoolRequest{Pool: "10.9.0.0/16", SubPool: "10.8.0.0/24"},
			wantErr: "not inside subnet"},
		{name: "ipv6 subnet", req: ipam.RequestPoolRequest{V6: true, Pool: "fd00:1::/64"},
			wantCall: &ipalloc.PoolRequest{Subnet: "fd00:1::/64", V6: true}},
		{name: "fresh ipv6 subnet", req: ipam.RequestPoolRequest{V6: true}, wantCall: &ipalloc.PoolRequest{V6: true}},
		{name: "link-local ipv6 refused", req: ipam.RequestPoolRequest{V6: true, Pool: "fe80::/64"}, wantErr: "link-local"},
		{name: "multicast ipv6 refused", req: ipam.RequestPoolRequest{V6: true, Pool: "ff05::/64"}, wantErr: "multicast"},
		{name: "ipv6 ip-range outside refused", req: ipam.RequestPoolRequest{V6: true, Pool: "fd00:1::/64", SubPool: "fd00:2::/80"},
			wantErr: "not inside subnet"},
		{name: "allocator error passed on", req: ipam.RequestPoolRequest{Pool: "10.9.0.0/16"},
			err: fmt.Errorf("subnet 10.9.0.0/16 overlaps network net2: %w", ipalloc.ErrPoolOverlap), wantErr: "overlaps network net2",
			wantCall: &ipalloc.PoolRequest{Subnet: "10.9.0.0/16"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeAlloc{err: tt.err}
			resp, err := newTestDriver(f).RequestPool(&tt.req)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			} else if resp.PoolID != "10.32.1.0/24" || resp.Pool != "10.32.1.0/24" || resp.Data[dataGateway] != "10.32.1.1/24" {
				t.Errorf("response %+v", resp)
			}
			if tt.wantCall == nil {
				if len(f.pools) != 0 {
					t.Errorf("allocator called: %+v", f.pools)
				}
				return
			}
			if len(f.pools) != 1 || f.pools[0].Subnet != tt.wantCall.Subnet || f.pools[0].IPRange != tt.wantCall.IPRange ||
				f.pools[0].V6 != tt.wantCall.V6 {
				t.Errorf("allocator got %+v, want %+v", f.pools, *tt.wantCall)
			}
			if f.unbound != 0 {
				t.Error("allocator called without a deadline")
			}
		})
	}
}

func TestRequestAddress(t *testing.T) {
	tests := []struct {
		name     string
		req      ipam.RequestAddressRequest
		err      error
		wantErr  string
		wantCall *ipalloc.AddressRequest
	}{
		{name: "any address", req: ipam.RequestAddressRequest{PoolID: "p", Options: map[string]string{optMAC: "02:42:0a:20:01:07"}},
			wantCall: &ipalloc.AddressRequest{PoolID: "p", MAC: "02:42:0a:20:01:07"}},
		{name: "endpoint name (Docker 29)", req: ipam.RequestAddressRequest{PoolID: "p", Options: map[string]string{optName: "web-1"}},
			wantCall: &ipalloc.AddressRequest{PoolID: "p", Name: "web-1"}},
		{name: "overlong endpoint name dropped", req: ipam.RequestAddressRequest{PoolID: "p", Options: map[string]string{optName: strings.Repeat("n", 256)}},
			wantCall: &ipalloc.AddressRequest{PoolID: "p"}},
		{name: "gateway", req: ipam.RequestAddressRequest{PoolID: "p", Address: "10.32.1.1", Options: map[string]string{optRequestType: typeGateway}},
			wantCall: &ipalloc.AddressRequest{PoolID: "p", IP: netip.MustParseAddr("10.32.1.1"), Gateway: true}},
		{name: "loopback gateway refused", req: ipam.RequestAddressRequest{PoolID: "p", Address: "127.0.0.1",
			Options: map[string]string{optRequestType: typeGateway}}, wantErr: "127.0.0.1 is loopback"},
		{name: "static --ip", req: ipam.RequestAddressRequest{PoolID: "p", Address: "10.32.1.9"},
			wantCall: &ipalloc.AddressRequest{PoolID: "p", IP: netip.MustParseAddr("10.32.1.9")}},
		{name: "malformed address refused before the allocator", req: ipam.RequestAddressRequest{PoolID: "p", Address: "10.32.1.999"},
			wantErr: `"10.32.1.999" is not an IP address`},
		{name: "exhausted pool passed on", req: ipam.RequestAddressRequest{PoolID: "p"},
			err:     fmt.Errorf("no free address in 10.32.1.0/24: %w", ipalloc.ErrPoolExhausted),
			wantErr: "no free address in 10.32.1.0/24", wantCall: &ipalloc.AddressRequest{PoolID: "p"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeAlloc{err: tt.err}
			resp, err := newTestDriver(f).RequestAddress(&tt.req)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				if tt.err != nil && !errors.Is(err, tt.err) {
					t.Errorf("err = %v does not wrap the allocator's", err)
				}
			} else if err != nil {
				t.Fatal(err)
			} else if resp.Address != "10.32.1.7/24" {
				t.Errorf("address %q", resp.Address)
			}
			if tt.wantCall == nil {
				if len(f.addrs) != 0 {
					t.Errorf("allocator called: %+v", f.addrs)
				}
				return
			}
			got := f.addrs
			if len(got) != 1 || got[0].PoolID != tt.wantCall.PoolID || got[0].IP != tt.wantCall.IP ||
				got[0].Gateway != tt.wantCall.Gateway || got[0].MAC != tt.wantCall.MAC || got[0].Name != tt.wantCall.Name {
				t.Errorf("allocator got %+v, want %+v", got, *tt.wantCall)
			}
			if f.unbound != 0 {
				t.Error("allocator called without a deadline")
			}
		})
	}
}

func TestRelease(t *testing.T) {
	f := &fakeAlloc{}
	d := newTestDriver(f)
	if err := d.ReleaseAddress(&ipam.ReleaseAddressRequest{PoolID: "p", Address: "nonsense"}); err == nil ||
		!strings.Contains(err.Error(), "is not an IP address") {
		t.Errorf("malformed address: err = %v", err)
	}
	if err := d.ReleaseAddress(&ipam.ReleaseAddressRequest{PoolID: "p", Address: "10.32.1.7"}); err != nil {
		t.Fatal(err)
	}
	if err := d.ReleasePool(&ipam.ReleasePoolRequest{PoolID: "p"}); err != nil {
		t.Fatal(err)
	}
	if want := "p 10.32.1.7,pool p"; strings.Join(f.released, ",") != want {
		t.Errorf("released %q, want %q", f.released, want)
	}
	f.err = fmt.Errorf("network 10.32.1.0/24 still has addresses: %w", ipalloc.ErrInvalidRequest)
	if err := d.ReleasePool(&ipam.ReleasePoolRequest{PoolID: "p"}); !errors.Is(err, ipalloc.ErrInvalidRequest) {
		t.Errorf("allocator error not passed on: %v", err)
	}
}
