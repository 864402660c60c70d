package ipalloc

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"go.etcd.io/bbolt"
)

// pollInterval is how often waits re-check liveness, which changes without
// a Subscribe signal.
const pollInterval = 50 * time.Millisecond

// knownPools returns every pool this host knows of, local or replicated,
// with the host that created it.
func (a *Allocator) knownPools() map[string]poolInfo {
	out := map[string]poolInfo{}
	for _, e := range a.rep.List(KindPool) {
		if info, ok := decode[poolInfo](e); ok {
			out[e.Key] = info
		}
	}
	for id, p := range a.pools {
		out[id] = p.rec.Info
	}
	return out
}

// checkOverlap refuses a subnet overlapping a different known pool.
func (a *Allocator) checkOverlap(info poolInfo) error {
	subnet := netip.MustParsePrefix(info.Subnet)
	for id, other := range a.knownPools() {
		o, err := netip.ParsePrefix(id)
		if err != nil || id == info.Subnet || !o.Overlaps(subnet) {
			continue
		}
		return fmt.Errorf("subnet %s overlaps pool %s of another network (created on host %s); choose another subnet: %w",
			info.Subnet, id, other.Seeder, ErrPoolOverlap)
	}
	return nil
}

// freeSubnet picks the first /DefaultSubnetBits subnet of the cluster range
// that overlaps no known pool.
func (a *Allocator) freeSubnet() (netip.Prefix, bool) {
	var used []netip.Prefix
	for id := range a.knownPools() {
		if p, err := netip.ParsePrefix(id); err == nil {
			used = append(used, p)
		}
	}
	n := uint64(1) << (a.cfg.DefaultSubnetBits - a.allocRange.Bits())
	step := uint64(1) << (32 - a.cfg.DefaultSubnetBits)
	for i := range n {
		c := netip.PrefixFrom(addAddr(a.allocRange.Addr(), i*step), a.cfg.DefaultSubnetBits)
		if !slices.ContainsFunc(used, c.Overlaps) {
			return c, true
		}
	}
	return netip.Prefix{}, false
}

// checkRanges refuses to create pools while a reachable host announces a
// different IPALLOC_RANGE: no host can tell which one is right.
func (a *Allocator) checkRanges() error {
	for _, e := range a.rep.List(KindHost) {
		h, ok := decode[hostInfo](e)
		if !ok || e.Key == a.name || !a.rep.Alive(e.Key) {
			continue
		}
		if h.Range != a.allocRange.String() {
			return fmt.Errorf("IPALLOC_RANGE differs between hosts: this host (%s) uses %s but host %s uses %s; set the same range everywhere: %w",
				a.name, a.allocRange, e.Key, h.Range, ErrRangeMismatch)
		}
		// A host of a release before IPv6 announces no Range6: it makes no IPv6 pools.
		if h.Range6 != "" && h.Range6 != a.range6.String() {
			return fmt.Errorf("IPALLOC_RANGE6 differs between hosts: this host (%s) uses %s but host %s uses %s; set the same range everywhere: %w",
				a.name, a.range6, e.Key, h.Range6, ErrRangeMismatch)
		}
	}
	return nil
}

// peers returns the other hosts that announced themselves, sorted.
func (a *Allocator) peers() []string {
	var out []string
	for _, e := range a.rep.List(KindHost) {
		if e.Key != a.name {
			out = append(out, e.Key)
		}
	}
	return out
}

// claimOutcome evaluates this host's claim of pool id: lost (another claim
// won), or the reachable peers that have not yet acknowledged it.
func (a *Allocator) claimOutcome(id, nonce string) (lost bool, winner poolInfo, waiting []string) {
	e, ok := a.rep.Get(KindPool, id)
	w, valid := decode[poolInfo](e)
	if !ok || !valid || w.Nonce != nonce {
		return true, w, nil
	}
	want := ackInfo{Seeder: a.name, Nonce: nonce}
	for _, h := range a.peers() {
		if !a.rep.Alive(h) {
			continue
		}
		ack, _ := a.rep.Get(KindAck, pairKey(id, h))
		if got, ok := decode[ackInfo](ack); !ok || got != want {
			waiting = append(waiting, h)
		}
	}
	return false, w, waiting
}

// confirmClaim waits until every reachable peer acknowledges this host's
// claim of pool id (at once in a cluster of one), then lets it allocate.
func (a *Allocator) confirmClaim(ctx context.Context, id, nonce string) error {
	ch, cancel := a.rep.Subscribe()
	defer cancel()
	deadline := time.Now().Add(a.cfg.SpaceTimeout)
	for {
		a.mu.Lock()
		done, err := a.settleClaim(id, nonce, time.Now().After(deadline))
		a.mu.Unlock()
		if done {
			return err
		}
		if err := waitSignal(ctx, ch); err != nil {
			a.mu.Lock()
			defer a.mu.Unlock()
			if p := a.pools[id]; p != nil && p.rec.Info.Nonce == nonce && !p.rec.Confirmed {
				return a.dropClaim(p, fmt.Errorf("claim pool %s: %w", id, err))
			}
			return fmt.Errorf("claim pool %s: %w", id, err)
		}
	}
}

func (a *Allocator) settleClaim(id, nonce string, expired bool) (bool, error) {
	p := a.pools[id]
	if p == nil || p.rec.Info.Nonce != nonce {
		return true, fmt.Errorf("pool %s was released while it was being created: %w", id, ErrUnknownPool)
	}
	lost, w, waiting := a.claimOutcome(id, nonce)
	switch {
	case lost && !p.rec.Info.Default && w.Range == p.rec.Info.Range && w.Subnet == id:
		return true, a.joinWinner(p, w)
	case lost:
		return true, a.dropClaim(p, errClaimLost)
	case len(waiting) == 0:
		p.rec.Confirmed = true
		return true, a.savePool(p)
	case expired:
		err := fmt.Errorf("new pool %s was not confirmed by hosts %s within %s (they are reachable but did not answer); try again: %w",
			id, strings.Join(waiting, ", "), a.cfg.SpaceTimeout, ErrNoSpace)
		return true, a.dropClaim(p, err)
	}
	return false, nil
}

// joinWinner turns a lost claim of the same pool into a share of the
// winner's: the claim was never confirmed, so nothing was allocated from it.
func (a *Allocator) joinWinner(p *pool, w poolInfo) error {
	refs := p.rec.Refs
	delete(a.pools, p.id())
	err := a.update("pool "+p.id(), func(tx *bbolt.Tx) error { return deletePool(tx, p.id()) })
	if err != nil {
		return err
	}
	_, err = a.addPool(poolRecord{Info: w, Refs: refs, Confirmed: true}, false)
	return err
}

// dropClaim forgets an unconfirmed claim, retracting its entry.
func (a *Allocator) dropClaim(p *pool, cause error) error {
	delete(a.pools, p.id())
	if e, ok := a.rep.Get(KindPool, p.id()); ok && e.Owner == a.name && !e.Deleted {
		if info, ok := decode[poolInfo](e); ok && info.Nonce == p.rec.Info.Nonce {
			a.rep.Delete(KindPool, p.id())
		}
	}
	if err := a.update("pool "+p.id(), func(tx *bbolt.Tx) error { return deletePool(tx, p.id()) }); err != nil {
		return err
	}
	return cause
}

// waitSignal waits for a change signal, a poll tick or the context's end.
func waitSignal(ctx context.Context, ch <-chan struct{}) error {
	t := time.NewTimer(pollInterval)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-ch:
	case <-t.C:
	}
	return nil
}
