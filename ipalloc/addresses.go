package ipalloc

import (
	"context"
	"fmt"
	"net/netip"
)

// RequestAddress leases an address of pool req.PoolID: the one asked for or
// any free one. It answers from space this host holds without talking to
// other hosts; only a host that holds no free address (or not the block of
// the address asked for) asks the others, and waits at most
// Config.SpaceTimeout. A gateway request returns the pool's gateway, which
// is the same on every host and never counts as a lease.
// The address comes back with the subnet's prefix length, as Docker wants it.
func (a *Allocator) RequestAddress(ctx context.Context, req AddressRequest) (netip.Prefix, error) {
	ip := req.IP.Unmap()
	a.mu.Lock()
	p, err := a.pool(req.PoolID)
	if err != nil {
		a.mu.Unlock()
		return netip.Prefix{}, err
	}
	subnet := p.sp.subnet
	if req.Gateway {
		gw, err := a.gateway(p, ip)
		a.mu.Unlock()
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(gw, subnet.Bits()), nil
	}
	got, q, retry, err := a.tryLease(p, ip, leaseFor(req, ip))
	a.mu.Unlock()
	if err == nil {
		err = a.settle(q) // outside a.mu, so that concurrent requests share a commit
	}
	if err != nil {
		return netip.Prefix{}, err
	}
	if retry {
		if got, err = a.waitForSpace(ctx, req, ip); err != nil {
			return netip.Prefix{}, err
		}
	}
	return netip.PrefixFrom(got, subnet.Bits()), nil
}

func (a *Allocator) pool(id string) (*pool, error) {
	if p := a.pools[id]; p != nil && p.rec.Refs > 0 {
		return p, nil
	}
	return nil, fmt.Errorf("pool %s is not open on host %s; recreate the network: %w", id, a.name, ErrUnknownPool)
}

// tryLease leases ip (or any address) from space this host holds: in
// memory at once, on disk once the returned write settles (a.settle).
// retry says that other hosts must be asked for space first.
func (a *Allocator) tryLease(p *pool, ip netip.Addr, l lease) (netip.Addr, *queuedLease, bool, error) {
	if !ip.IsValid() {
		got, ok := a.handBack(p, l.Name)
		if !ok {
			got, ok = a.freeUntaken(p)
		}
		if !ok || !p.rec.Confirmed {
			return netip.Addr{}, nil, true, a.exhausted(p)
		}
		return got, a.queueLease(p, got, l), false, nil
	}
	b, err := a.checkStatic(p, ip)
	if err != nil {
		return netip.Addr{}, nil, false, err
	}
	if !p.holds(b) || !p.rec.Confirmed || a.checkTaken(p, b) {
		if from, ok := a.lentToMe(p, ip); ok {
			l.From = from
			return ip, a.queueLease(p, ip, l), false, nil
		}
		return netip.Addr{}, nil, true, a.heldElsewhere(p, ip)
	}
	return ip, a.queueLease(p, ip, l), false, nil
}

// checkStatic validates an address asked for and returns its block.
func (a *Allocator) checkStatic(p *pool, ip netip.Addr) (int, error) {
	b, ok := p.blockOfAddr(ip)
	switch {
	case !ok && p.sp.start.Is6() && netip.MustParsePrefix(p.rec.Info.Range).Contains(ip):
		last := p.sp.addr(p.sp.size - 1)
		return 0, fmt.Errorf("address %s is beyond the part of range %s that weavego allocates from (%s to %s): "+
			"pick an address there: %w", ip, p.rec.Info.Range, p.sp.start, last, ErrOutOfPool)
	case !ok || ip == p.sp.network() || ip == p.sp.broadcast():
		return 0, fmt.Errorf("address %s is outside the range %s of pool %s: %w", ip, p.rec.Info.Range, p.id(), ErrOutOfPool)
	case ip == p.gw:
		return 0, fmt.Errorf("address %s is the gateway of pool %s: %w", ip, p.id(), ErrAddressInUse)
	}
	if l, taken := p.leases[ip]; taken {
		return 0, a.inUse(ip, l)
	}
	return b, nil
}

// inUse is the error for a static request of a leased address.
func (a *Allocator) inUse(ip netip.Addr, l lease) error {
	if l.Lent != "" {
		return fmt.Errorf("address %s is already in use on host %s: %w", ip, l.Lent, ErrAddressInUse)
	}
	return fmt.Errorf("address %s is already in use on host %s (this host): %w", ip, a.name, ErrAddressInUse)
}

// lease saves and records a lease, and returns once it is on disk.
func (a *Allocator) lease(p *pool, ip netip.Addr, l lease) error {
	q := a.queueLease(p, ip, l)
	if err := a.disk.q.wait(q.c); err != nil {
		q.undo()
		return err
	}
	return nil
}

// ReleaseAddress frees a lease. Releasing an address that is not leased
// (or the gateway) succeeds, so Docker may retry.
func (a *Allocator) ReleaseAddress(ctx context.Context, poolID string, ip netip.Addr) error {
	if !ip.IsValid() {
		return fmt.Errorf("no address to release: %w", ErrInvalidRequest)
	}
	addr := ip.Unmap()
	a.mu.Lock()
	p := a.pools[poolID]
	if p == nil {
		a.mu.Unlock()
		return fmt.Errorf("pool %s is not open on host %s: %w", poolID, a.name, ErrUnknownPool)
	}
	l, leased := p.leases[addr]
	if !leased {
		a.mu.Unlock()
		return nil
	}
	c, first := a.queueRelease(p, addr, l)
	a.mu.Unlock()
	err := a.disk.q.wait(c) // outside a.mu, so that concurrent requests share a commit
	if !first {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.releasing, releaseKey{p.id(), addr})
	if err != nil {
		return err
	}
	if cur, ok := p.leases[addr]; ok && cur == l {
		p.remove(addr)
	}
	if l.From != "" {
		a.rep.Delete(KindLend, pairKey(p.id(), addr.String()))
	}
	return nil
}
