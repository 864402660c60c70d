package ipalloc

import (
	"log/slog"
	"net/netip"
	"time"
)

// PoolRequest is Docker's RequestPool, translated.
type PoolRequest struct {
	// Subnet is the CIDR asked for with --subnet, or "" for a fresh subnet
	// from Config.Range.
	Subnet string
	// IPRange is --ip-range, or "" to allocate from the whole subnet.
	IPRange string
	// V6 asks for an IPv6 pool; without Subnet it gets a fresh
	// /DefaultSubnetBits6 subnet of Config.Range6.
	V6 bool
	// Options are Docker's --ipam-opt values; none are used yet.
	Options map[string]string
}

// Pool is the answer to RequestPool.
type Pool struct {
	// ID is what Docker passes back in later calls; it is the subnet in
	// CIDR form, identical on every host.
	ID string
	// Subnet is the pool's subnet.
	Subnet netip.Prefix
	// IPRange is the part of Subnet addresses are allocated from, or the
	// zero Prefix for the whole subnet.
	IPRange netip.Prefix
	// Gateway is the gateway address reserved for the pool (the first host
	// address unless Docker asked for another) with the subnet's prefix
	// length, as Docker wants it.
	Gateway netip.Prefix
}

// AddressRequest is Docker's RequestAddress, translated.
type AddressRequest struct {
	// PoolID is a Pool.ID returned by RequestPool.
	PoolID string
	// IP is the address asked for (--ip, --gateway), or the zero Addr for
	// any; an IPv4-mapped IPv6 form is taken as the IPv4 address.
	IP netip.Addr
	// Gateway marks Docker's request for the network's gateway address.
	Gateway bool
	// MAC is the endpoint's MAC address if Docker gave one (kept for status).
	MAC string
	// Name is the endpoint's name (the container's) if Docker gave it
	// (Docker 29 and later): a container that asks again under the name it
	// released an address with gets that address back when it is free.
	Name string
}

// leaseFor is the lease a request makes of ip (invalid: any address).
func leaseFor(req AddressRequest, ip netip.Addr) lease {
	return lease{MAC: req.MAC, Name: req.Name, Static: ip.IsValid()}
}

// Config configures an Allocator. Zero values take the defaults below.
type Config struct {
	// Range is IPALLOC_RANGE, where fresh subnets come from (default 10.32.0.0/12).
	// Every host of a cluster must use the same range.
	Range string
	// DefaultSubnetBits is the prefix length of fresh subnets (default 24).
	DefaultSubnetBits int
	// Range6 is IPALLOC_RANGE6, where fresh IPv6 subnets come from, a /64
	// each (default DefaultRange6, a unique local /48). Every host of a
	// cluster must use the same one.
	Range6 string
	// SpaceTimeout bounds how long a request waits for other hosts: a
	// starved host waiting for space, a new pool waiting for the reachable
	// peers to confirm its claim (default 5s).
	SpaceTimeout time.Duration
	// ReclaimAfter, when positive, lets the cluster take over the space of
	// a host unreachable for that long, as RemovePeer would. Off by default:
	// only safe if hosts that stay away that long never come back with
	// their containers (see the package documentation).
	ReclaimAfter time.Duration
	// Logger receives the allocator's logs (default: discard).
	Logger *slog.Logger
}

// Default configuration values.
const (
	DefaultRange        = "10.32.0.0/12"
	DefaultSubnetBits   = 24
	DefaultRange6       = "fd77:6561:7665::/48" // fd + "weave" in ASCII: a unique local range
	DefaultSubnetBits6  = 64
	DefaultSpaceTimeout = 5 * time.Second
)

// Status is the allocator's view of the cluster, for `weavego status ipam`.
type Status struct {
	// Host is this host's name.
	Host string
	// Range is the configured IPALLOC_RANGE.
	Range string
	// Range6 is the configured IPALLOC_RANGE6.
	Range6 string
	// Pools lists the pools known to this host, sorted by ID.
	Pools []PoolStatus
	// Problems lists conflicts and mismatches found, as sentences.
	Problems []string
}

// PoolStatus describes one pool.
type PoolStatus struct {
	// ID is the pool ID (its subnet).
	ID string
	// IPRange is the range allocated from.
	IPRange string
	// Gateway is the reserved gateway address.
	Gateway string
	// Seeder is the host that created the pool and held its space first.
	Seeder string
	// Hosts gives each host's share, sorted by name.
	Hosts []HostShare
}

// HostShare is what one host holds of one pool.
type HostShare struct {
	// Host is the host's name.
	Host string
	// Owned, Used and Free count addresses (reserved ones excluded).
	Owned, Used, Free uint64
	// Reserve is the free addresses the host holds by its own account:
	// what it can still lease while cut off from the others. It is kept at
	// one block's worth or more while the pool is open there.
	Reserve uint64
	// Reachable is false when the host is not alive in the gossip view:
	// its space cannot be handed over until it returns or is removed.
	Reachable bool
}
