package ipalloc

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/weavego/weavego/internal/record"
	"github.com/weavego/weavego/mesh"
)

// takeoverJump is how far a takeover (RemovePeer, Config.ReclaimAfter)
// raises a block entry's version above the highest this host knows. The
// removed host may have gone on writing the block where this host could not
// see it (handing it over, or adopting it at the very version the taker
// would write); each such write raises the version by one, so no real run
// of them comes near 2^20, and the takeover wins the merge everywhere. The
// bound mesh.MaxVersion (2^40) leaves room for a million takeovers of one
// block. See the package documentation.
const takeoverJump = 1 << 20

// RemovePeer declares host name gone for good (weavego rmpeer): for each
// pool, one live host takes over the space name held, and name's leases are
// dropped. It refuses a host that is reachable. It is safe only if name
// never comes back with its old state: see the package documentation. Run
// it on one host only; the takeover completes as the other hosts see it.
func (a *Allocator) RemovePeer(ctx context.Context, name string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case name == a.name:
		return fmt.Errorf("host %s cannot remove itself; run rmpeer on another host: %w", name, ErrInvalidRequest)
	case a.rep.Alive(name):
		return fmt.Errorf("host %s is reachable; stop weavego there before removing it: %w", name, ErrInvalidRequest)
	}
	a.removePeerLocked(name)
	a.processRemovals()
	return nil
}

func (a *Allocator) removePeerLocked(name string) {
	takers := map[string]string{}
	for id, info := range a.knownPools() {
		takers[id] = a.chooseTaker(id, info, name)
	}
	a.rep.Set(KindRemoved, name, record.Encode(removedInfo{By: a.name, Takers: takers}))
	a.rep.Delete(KindHost, name)
	a.log.Warn("host removed; its address space is taken over", "peer", name)
}

// chooseTaker picks the host that takes over gone's space in pool id: this
// host if it has the pool open, else the first reachable host that has it
// open, else the first that has it open at all ("" if none does).
func (a *Allocator) chooseTaker(id string, info poolInfo, gone string) string {
	if p := a.pools[id]; p != nil && p.rec.Info.Nonce == info.Nonce {
		return a.name
	}
	var open []string
	for _, e := range a.rep.List(KindUsed) {
		pl, host := splitPair(e.Key)
		if u, ok := decode[usedInfo](e); ok && pl == id && host != gone && u.Nonce == info.Nonce {
			open = append(open, host)
		}
	}
	slices.Sort(open)
	for _, h := range open {
		if a.rep.Alive(h) {
			return h
		}
	}
	if len(open) > 0 {
		return open[0]
	}
	return ""
}

// processRemovals tells the map which hosts are removed (their pins are
// cleared: mesh.ClearPins), and carries out removal markers naming this
// host as taker, while the removed host is away. A removal ends when the removed host is
// back: it deletes its marker itself. From then on what it holds and asks
// for is its own again: a taker that went on acting on the marker would
// delete each request for space it makes and take over each block handed
// to it, and it would never get space. What was taken stays
// taken (the takeover's version wins), and a host back with its old state
// reports what may collide (loseBlock).
func (a *Allocator) processRemovals() {
	markers := a.rep.List(KindRemoved)
	var removed []string
	for _, e := range markers {
		if e.Key != a.name {
			removed = append(removed, e.Key)
		}
	}
	// Every host sees the same markers, so every host clears the same pins.
	a.rep.ClearPins(removed)
	for _, e := range markers {
		r, ok := decode[removedInfo](e)
		if !ok {
			continue
		}
		if e.Key == a.name {
			a.rep.Delete(KindRemoved, a.name)
			msg := "" // back with fresh state: welcome
			if len(a.pools) > 0 {
				msg = fmt.Sprintf("this host was removed by rmpeer on host %s; its space may be in use elsewhere: reset its weavego state", r.By)
			}
			a.problem("removed", msg)
			continue
		}
		if a.rep.Alive(e.Key) {
			continue // back: its own delete of the marker is on its way
		}
		for id, taker := range r.Takers {
			a.takeOver(id, e.Key, taker, r.By)
		}
	}
}

// takeOver moves the blocks gone holds in pool id to this host, if it is
// the designated taker, and drops gone's entries for the pool.
func (a *Allocator) takeOver(id, gone, taker, by string) {
	p := a.pools[id]
	if taker == "" && by == a.name {
		if info, ok := a.currentInfo(id); ok && info.Seeder == gone {
			a.rep.Delete(KindPool, id) // nobody else uses it: the subnet is free again
		}
		return
	}
	if taker != a.name || p == nil {
		return
	}
	taken := map[int]bool{}
	for b := range p.sp.blocks() {
		if a.holderOf(p, b) != gone {
			continue
		}
		taken[b] = true
		key := blockKey(p.id(), p.rec.Info.Nonce, b)
		cur, _ := a.rep.Get(KindBlock, key)
		v := min(cur.Version+takeoverJump, mesh.MaxVersion)
		if err := a.saveBlock(p, b, blockRec{Held: true, Version: v}); err != nil {
			a.log.Error("take over block", "block", key, "err", err)
			return
		}
		a.rep.SetAtLeast(KindBlock, key, record.Encode(blockInfo{Holder: a.name}), v)
	}
	a.takeLends(p, gone, taken)
	if p.rec.Info.Seeder == gone {
		p.rec.Info.Seeder = a.name
		e := a.rep.Set(KindPool, id, record.Encode(p.rec.Info))
		p.rec.Version = e.Version
		if err := a.savePool(p); err != nil {
			a.log.Error("take over pool", "pool", id, "err", err)
		}
	}
	for _, kind := range []string{KindUsed, KindWant, KindAck} {
		if e, ok := a.rep.Get(kind, pairKey(id, gone)); ok && !e.Deleted {
			a.rep.Delete(kind, pairKey(id, gone))
		}
	}
}

// reclaim removes hosts unreachable for Config.ReclaimAfter, if enabled;
// only the first reachable host by name acts, so one host removes each.
func (a *Allocator) reclaim(now time.Time) {
	if a.cfg.ReclaimAfter <= 0 {
		return
	}
	live := []string{a.name}
	for _, h := range a.peers() {
		if a.rep.Alive(h) {
			live = append(live, h)
			delete(a.down, h)
		} else if _, ok := a.down[h]; !ok {
			a.down[h] = now
		}
	}
	if slices.Min(live) != a.name {
		return
	}
	for h, since := range a.down {
		if !a.isRemoved(h) && now.Sub(since) >= a.cfg.ReclaimAfter && !a.rep.Alive(h) {
			a.log.Warn("host unreachable too long: reclaiming its space", "peer", h, "after", a.cfg.ReclaimAfter)
			a.removePeerLocked(h)
			delete(a.down, h)
		}
	}
}

// isRemoved says whether host name was removed by rmpeer and has not come
// back with fresh state since (which deletes the marker).
func (a *Allocator) isRemoved(name string) bool {
	e, ok := a.rep.Get(KindRemoved, name)
	return ok && !e.Deleted
}

// rangeProblems reports reachable hosts announcing another IPALLOC_RANGE or
// IPALLOC_RANGE6.
func (a *Allocator) rangeProblems() {
	for _, e := range a.rep.List(KindHost) {
		h, ok := decode[hostInfo](e)
		mismatch := ok && e.Key != a.name && h.Range != a.allocRange.String()
		msg := ""
		if mismatch {
			msg = fmt.Sprintf("host %s uses IPALLOC_RANGE %s but this host uses %s: new networks are refused until they agree", e.Key, h.Range, a.allocRange)
		}
		a.problem("range "+e.Key, msg)
		msg = ""
		if ok && e.Key != a.name && h.Range6 != "" && h.Range6 != a.range6.String() {
			msg = fmt.Sprintf("host %s uses IPALLOC_RANGE6 %s but this host uses %s: new networks are refused until they agree", e.Key, h.Range6, a.range6)
		}
		a.problem("range6 "+e.Key, msg)
	}
}
