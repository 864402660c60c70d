package ipalloc

import (
	"context"
	"net/netip"

	"go.etcd.io/bbolt"

	"github.com/weavego/weavego/internal/record"
)

// ReleasePool drops one reference to a pool. With the last one the pool's
// leases are freed and its space goes back to the host that created it;
// that host forgets the pool cluster-wide once it holds all of its space
// again, which makes the subnet free for new networks.
func (a *Allocator) ReleasePool(ctx context.Context, id string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	p, err := a.pool(id)
	if err != nil {
		return err
	}
	p.rec.Refs--
	if p.rec.Refs > 0 {
		return a.savePool(p)
	}
	var drop []netip.Addr // addresses lent to other hosts stay until returned
	for ip, l := range p.leases {
		if l.Lent == "" {
			drop = append(drop, ip)
		}
	}
	err = a.update("pool "+id, func(tx *bbolt.Tx) error {
		for _, ip := range drop {
			if err := putLease(tx, id, ip, nil); err != nil {
				return err
			}
		}
		return putPool(tx, p.rec)
	})
	if err != nil {
		return err
	}
	for _, ip := range drop {
		if p.leases[ip].From != "" {
			a.rep.Delete(KindLend, pairKey(id, ip.String()))
		}
		p.remove(ip)
	}
	return a.retire(p)
}

// retire winds down a pool no network uses here any more ("dormant"):
// a seeder forgets it once it holds every block again, another host once it
// has handed all its blocks back to the seeder.
func (a *Allocator) retire(p *pool) error {
	if p.rec.Refs > 0 || len(p.leases) > 0 {
		return nil
	}
	seeder := p.rec.Info.Seeder
	if seeder != a.name {
		for _, b := range p.heldBlocks() {
			if err := a.give(p, b, seeder); err != nil {
				return err
			}
		}
	}
	if seeder == a.name && len(a.openElsewhere(p)) > 0 {
		return nil
	}
	for b := range p.sp.blocks() {
		r := p.ledger[b]
		if r.To != "" || (seeder == a.name && !r.Held) {
			return nil // still waiting for space to come back or be taken
		}
	}
	return a.forget(p, seeder == a.name)
}

// give hands block b of p over to host to: this host stops using it, saves
// the pending handover and writes the block entry naming to, its last write.
func (a *Allocator) give(p *pool, b int, to string) error {
	key := blockKey(p.id(), p.rec.Info.Nonce, b)
	cur, _ := a.rep.Get(KindBlock, key)
	r := blockRec{Version: cur.Version + 1, To: to}
	if err := a.update("block "+key, func(tx *bbolt.Tx) error { return putBlock(tx, p.id(), b, r) }); err != nil {
		return err
	}
	p.ledger[b] = r
	if e := a.rep.Set(KindBlock, key, record.Encode(blockInfo{Holder: to})); e.Version != r.Version {
		a.log.Warn("block entry changed during handover", "block", key, "want", r.Version, "got", e.Version)
	}
	a.log.Debug("block handed over", "block", key, "peer", to)
	return nil
}

// forget deletes a pool here; everywhere (its entry and block entries) when
// this host is its seeder.
func (a *Allocator) forget(p *pool, everywhere bool) error {
	if err := a.update("pool "+p.id(), func(tx *bbolt.Tx) error { return deletePool(tx, p.id()) }); err != nil {
		return err
	}
	delete(a.pools, p.id())
	for _, kind := range []string{KindAck, KindUsed, KindWant} {
		if _, ok := a.rep.Get(kind, pairKey(p.id(), a.name)); ok {
			a.rep.Delete(kind, pairKey(p.id(), a.name))
		}
	}
	if !everywhere {
		return nil
	}
	if info, ok := a.currentInfo(p.id()); ok && info.Nonce == p.rec.Info.Nonce {
		a.rep.Delete(KindPool, p.id())
	}
	for _, e := range a.blockEntries(p) {
		a.rep.Delete(KindBlock, e.Key)
	}
	return nil
}

// currentInfo returns the live pool entry for id.
func (a *Allocator) currentInfo(id string) (poolInfo, bool) {
	e, ok := a.rep.Get(KindPool, id)
	if !ok {
		return poolInfo{}, false
	}
	return decode[poolInfo](e)
}
