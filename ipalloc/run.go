package ipalloc

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/bbolt"

	"github.com/weavego/weavego/internal/record"
)

// tickInterval is how often Run acts without a change signal: liveness
// changes, republishing, automatic reclaim.
const tickInterval = 200 * time.Millisecond

// Run keeps this host's part of the cluster protocol going until ctx ends:
// it acknowledges pool claims, hands space to hosts that ask, takes space
// handed to it, republishes what it holds after a restart and carries out
// RemovePeer. A cluster of one needs no Run.
func (a *Allocator) Run(ctx context.Context) error {
	ch, cancel := a.rep.Subscribe()
	defer cancel()
	t := time.NewTicker(tickInterval)
	defer t.Stop()
	for {
		a.Sync()
		select {
		case <-ctx.Done():
			return nil
		case <-ch:
		case <-t.C:
		}
	}
}

// Sync does one round of Run's work; tests call it to step the protocol.
func (a *Allocator) Sync() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ackClaims()
	a.processRemovals()
	a.reclaim(time.Now())
	a.rangeProblems()
	for _, id := range a.poolIDs() {
		if err := a.syncPool(a.pools[id]); err != nil {
			a.log.Error("sync pool", "pool", id, "err", err)
		}
	}
}

func (a *Allocator) poolIDs() []string {
	ids := make([]string, 0, len(a.pools))
	for id := range a.pools {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (a *Allocator) syncPool(p *pool) error {
	a.checkClaim(p)
	a.refreshInfo(p)
	a.adopt(p)
	if err := a.republish(p); err != nil {
		return err
	}
	if err := a.serveWants(p); err != nil {
		return err
	}
	a.keepReserve(p)
	if err := a.syncLends(p); err != nil {
		return err
	}
	a.publishUsed(p)
	if p.rec.Refs == 0 {
		return a.retire(p)
	}
	return nil
}

// ackClaims states, for every pool entry, which claim this host saw win.
func (a *Allocator) ackClaims() {
	for _, e := range a.rep.List(KindPool) {
		info, ok := decode[poolInfo](e)
		if !ok {
			continue
		}
		if p := a.pools[e.Key]; info.Seeder == a.name && (p == nil || p.rec.Info.Nonce != info.Nonce) {
			a.rep.Delete(KindPool, e.Key) // a pool this host forgot, brought back by a stale peer
			continue
		}
		ack := ackInfo{Seeder: info.Seeder, Nonce: info.Nonce}
		cur, _ := a.rep.Get(KindAck, pairKey(e.Key, a.name))
		if got, ok := decode[ackInfo](cur); !ok || got != ack {
			a.rep.Set(KindAck, pairKey(e.Key, a.name), record.Encode(ack))
		}
	}
}

// checkClaim republishes a pool entry this host seeded (after a restart of
// the whole cluster) and detects a confirmed claim that lost to another one
// made on the other side of a partition.
func (a *Allocator) checkClaim(p *pool) {
	if p.rec.Info.Seeder != a.name || !p.rec.Confirmed {
		return
	}
	e, ok := a.rep.Get(KindPool, p.id())
	if !ok || e.Deleted && e.Owner == a.name {
		for i := 0; i < 64 && e.Version < p.rec.Version; i++ {
			e = a.rep.Set(KindPool, p.id(), record.Encode(p.rec.Info))
		}
		return
	}
	w, valid := decode[poolInfo](e)
	if !valid || w.Nonce == p.rec.Info.Nonce {
		return
	}
	a.problem("claim "+p.id(), fmt.Sprintf("pool %s was also created on host %s while it was unreachable; %d addresses leased here may collide with its: recreate those containers",
		p.id(), w.Seeder, len(p.leases)))
	p.rec.Confirmed = false // lease nothing more from the losing claim
	if len(p.leases) == 0 && w.Subnet == p.id() && w.Range == p.rec.Info.Range {
		if err := a.joinWinner(p, w); err == nil {
			a.problem("claim "+p.id(), "")
		}
	}
}

// republish rewrites, after a restart, block entries this host wrote but
// that the cluster lost, up to the saved version and never above it, and
// finishes handovers whose receiver has confirmed. A held block whose entry
// another host wrote at this host's version or above was taken over by
// RemovePeer: this host stops leasing from it and reports its leases there.
func (a *Allocator) republish(p *pool) error {
	for b, r := range p.ledger {
		key := blockKey(p.id(), p.rec.Info.Nonce, b)
		e, ok := a.rep.Get(KindBlock, key)
		if r.Held || p.used[b] == 0 {
			a.problem("block "+key, "")
		}
		switch taker := a.takenBy(e, ok, r); {
		case taker != "":
			if err := a.loseBlock(p, b, e, taker); err != nil {
				return err
			}
		case !r.Held && p.used[b] > 0:
			a.reportTaken(p, b, key, a.holderOf(p, b))
		case r.Version == 0 || !r.Held && r.To == "":
			// never announced, or given and confirmed
		case e.Version < r.Version:
			want := record.Encode(blockInfo{Holder: map[bool]string{true: a.name, false: r.To}[r.Held]})
			for i := 0; i < 64 && e.Version < r.Version; i++ {
				e = a.rep.Set(KindBlock, key, want)
			}
		case r.To != "":
			r.To = ""
			if err := a.saveBlock(p, b, r); err != nil {
				return err
			}
		}
	}
	return nil
}

func (a *Allocator) saveBlock(p *pool, b int, r blockRec) error {
	err := a.update("block of pool "+p.id(), func(tx *bbolt.Tx) error { return putBlock(tx, p.id(), b, r) })
	if err == nil {
		p.ledger[b] = r
	}
	return err
}

func blockSpan(p *pool, b int) string {
	lo, hi := p.sp.blockRange(b)
	return p.sp.addr(lo).String() + "-" + p.sp.addr(hi-1).String()
}

// publishUsed announces this host's leases in p (for error messages,
// Status, and so that the seeder keeps the pool while it is open here).
func (a *Allocator) publishUsed(p *pool) {
	u := usedInfo{Nonce: p.rec.Info.Nonce, Addrs: []string{}, Held: len(p.heldBlocks()), Free: p.freeHeld()}
	for ip, l := range p.leases {
		if l.Lent == "" {
			u.Addrs = append(u.Addrs, ip.String())
		}
	}
	slices.Sort(u.Addrs)
	v := record.Encode(u)
	if e, ok := a.rep.Get(KindUsed, pairKey(p.id(), a.name)); !ok || e.Deleted || string(e.Value) != string(v) {
		a.rep.Set(KindUsed, pairKey(p.id(), a.name), v)
	}
}
