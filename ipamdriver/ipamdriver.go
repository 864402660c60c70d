// Package ipamdriver is weavego's libnetwork remote IPAM driver. It translates
// Docker's IPAM requests into calls on an Allocator and its errors into
// sentences for the user; the allocator (package ipalloc) decides which
// addresses are free, on this host and across the cluster.
package ipamdriver

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/docker/go-plugins-helpers/ipam"

	"github.com/weavego/weavego/ipalloc"
)

// Address spaces weavego announces; the network driver refuses pools from
// any other space (they come from an IPAM that knows nothing of other hosts).
const (
	LocalAddressSpace  = "weavego-local"
	GlobalAddressSpace = "weavego-global"
)

// Docker's option keys.
const (
	optRequestType = "RequestAddressType"
	typeGateway    = "com.docker.network.gateway"
	optMAC         = "com.docker.network.endpoint.macaddress"
	optName        = "com.docker.network.endpoint.name" // Docker 29 and later: the container's name
	dataGateway    = "com.docker.network.gateway"
)

// Allocator is the driver's view of the address allocator.
type Allocator interface {
	RequestPool(ctx context.Context, req ipalloc.PoolRequest) (ipalloc.Pool, error)
	ReleasePool(ctx context.Context, id string) error
	RequestAddress(ctx context.Context, req ipalloc.AddressRequest) (netip.Prefix, error)
	ReleaseAddress(ctx context.Context, poolID string, ip netip.Addr) error
}

// Driver implements ipam.Ipam.
type Driver struct {
	alloc   Allocator
	log     *slog.Logger
	timeout time.Duration // bounds every allocator call, so Docker never hangs on us
}

var _ ipam.Ipam = (*Driver)(nil)

// answerMargin is the time a request may take beyond the allocator's wait
// for address space.
const answerMargin = 5 * time.Second

// DefaultTimeout is Config.Timeout's default: TimeoutFor the allocator's
// default wait for address space.
const DefaultTimeout = ipalloc.DefaultSpaceTimeout + answerMargin

// TimeoutFor is the time a request may take when the allocator waits up to
// spaceWait for address space: that wait, and answerMargin to answer.
func TimeoutFor(spaceWait time.Duration) time.Duration { return spaceWait + answerMargin }

// Config configures the driver.
type Config struct {
	// Timeout bounds each request; default DefaultTimeout.
	Timeout time.Duration
	// Logger receives the requests served; nil discards.
	Logger *slog.Logger
}

// New returns the IPAM driver.
func New(cfg Config, alloc Allocator) *Driver {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Driver{alloc: alloc, log: cfg.Logger, timeout: cfg.Timeout}
}

// GetCapabilities: weavego needs no MAC address to allocate.
func (d *Driver) GetCapabilities() (*ipam.CapabilitiesResponse, error) {
	return &ipam.CapabilitiesResponse{RequiresMACAddress: false}, nil
}

// GetDefaultAddressSpaces names weavego's address spaces.
func (d *Driver) GetDefaultAddressSpaces() (*ipam.AddressSpacesResponse, error) {
	return &ipam.AddressSpacesResponse{
		LocalDefaultAddressSpace:  LocalAddressSpace,
		GlobalDefaultAddressSpace: GlobalAddressSpace,
	}, nil
}

// RequestPool reserves a subnet: the one asked for, or a fresh one (a /24
// of IPALLOC_RANGE, or for IPv6 a /64 of IPALLOC_RANGE6).
func (d *Driver) RequestPool(req *ipam.RequestPoolRequest) (*ipam.RequestPoolResponse, error) {
	if err := checkPool(req.Pool, req.SubPool, req.V6); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	pool, err := d.alloc.RequestPool(ctx, ipalloc.PoolRequest{Subnet: req.Pool, IPRange: req.SubPool, V6: req.V6, Options: req.Options})
	if err != nil {
		return nil, err
	}
	resp := &ipam.RequestPoolResponse{PoolID: pool.ID, Pool: pool.Subnet.String(), Data: map[string]string{}}
	if pool.Gateway.IsValid() {
		resp.Data[dataGateway] = pool.Gateway.String()
	}
	d.log.Info("pool reserved", "pool", pool.ID, "subnet", resp.Pool, "gateway", resp.Data[dataGateway])
	return resp, nil
}

// ReleasePool frees a pool once no network uses it.
func (d *Driver) ReleasePool(req *ipam.ReleasePoolRequest) error {
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	if err := d.alloc.ReleasePool(ctx, req.PoolID); err != nil {
		return err
	}
	d.log.Info("pool released", "pool", req.PoolID)
	return nil
}

// RequestAddress allocates an address: any free one, or the one asked for.
func (d *Driver) RequestAddress(req *ipam.RequestAddressRequest) (*ipam.RequestAddressResponse, error) {
	ar := ipalloc.AddressRequest{PoolID: req.PoolID, Gateway: req.Options[optRequestType] == typeGateway,
		MAC: req.Options[optMAC], Name: endpointName(req.Options)}
	if req.Address != "" {
		var ok bool
		if ar.IP, ok = parseAddr(req.Address); !ok {
			return nil, fmt.Errorf("%q is not an IP address", req.Address)
		}
		if ar.Gateway {
			if err := checkGateway(ar.IP); err != nil {
				return nil, err
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	addr, err := d.alloc.RequestAddress(ctx, ar)
	if err != nil {
		return nil, err
	}
	d.log.Debug("address allocated", "pool", req.PoolID, "ip", addr, "gateway", ar.Gateway)
	return &ipam.RequestAddressResponse{Address: addr.String(), Data: map[string]string{}}, nil
}

// ReleaseAddress frees an address.
func (d *Driver) ReleaseAddress(req *ipam.ReleaseAddressRequest) error {
	ip, ok := parseAddr(req.Address)
	if !ok {
		return fmt.Errorf("%q is not an IP address", req.Address)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	if err := d.alloc.ReleaseAddress(ctx, req.PoolID, ip); err != nil {
		return err
	}
	d.log.Debug("address released", "pool", req.PoolID, "ip", req.Address)
	return nil
}

// parseAddr parses an address from Docker: IPv4 or IPv6, without a zone.
func parseAddr(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	return a, err == nil && a.Zone() == ""
}
