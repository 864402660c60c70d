package ipalloc

import "errors"

// Sentinel errors. Every error the Allocator returns wraps one of these (or a
// bbolt error) in a sentence naming the pool, address, range or peer, so the
// IPAM driver can hand the text to Docker and callers can still use errors.Is.
var (
	// ErrPoolExhausted: every address of the pool is in use, cluster-wide.
	ErrPoolExhausted = errors.New("pool exhausted")
	// ErrAddressInUse: the address asked for is held by a container, here or
	// on another host (the message names the host).
	ErrAddressInUse = errors.New("address in use")
	// ErrOutOfPool: the address asked for is not in the pool's range, or is
	// its network or broadcast address.
	ErrOutOfPool = errors.New("address out of pool")
	// ErrPoolOverlap: the subnet overlaps a different pool known to the cluster.
	ErrPoolOverlap = errors.New("pool overlap")
	// ErrUnknownPool: no pool with that ID is open on this host.
	ErrUnknownPool = errors.New("unknown pool")
	// ErrNoSpace: this host holds no free address of the pool and no other
	// host handed space over within Config.SpaceTimeout.
	ErrNoSpace = errors.New("no address space")
	// ErrRangeMismatch: two hosts (or this host and its saved state) were
	// configured with different IPALLOC_RANGE values.
	ErrRangeMismatch = errors.New("allocation range mismatch")
	// ErrCorruptState: the saved state cannot be read or belongs to another
	// host; it is reported, never overwritten.
	ErrCorruptState = errors.New("corrupt allocator state")
	// ErrInvalidRequest: a malformed subnet, range or address.
	ErrInvalidRequest = errors.New("invalid request")
)
