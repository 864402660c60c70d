package ipalloc

import "slices"

// openElsewhere returns the other hosts that have p open (a used entry for
// this incarnation of the pool), sorted.
func (a *Allocator) openElsewhere(p *pool) []string {
	var out []string
	for _, e := range a.rep.List(kindUsed) {
		pl, host := splitPair(e.Key)
		if u, ok := decode[usedInfo](e); ok && pl == p.id() && host != a.name && u.Nonce == p.rec.Info.Nonce {
			out = append(out, host)
		}
	}
	slices.Sort(out)
	return out
}

// serveWants hands blocks of p to reachable hosts that asked for them: the
// block holding a static address if it is empty, or any empty block this
// host can spare.
//
// Each request is answered once (by its Req, not the entry's version: a
// tombstone reaped by mesh restarts versions); the asker asks again if it
// needs more.
func (a *Allocator) serveWants(p *pool) error {
	if !p.rec.Confirmed && p.rec.Info.Seeder == a.name {
		return nil // an unconfirmed claim may still lose: give nothing from it
	}
	for _, e := range a.rep.List(kindWant) {
		pl, host := splitPair(e.Key)
		w, ok := decode[wantInfo](e)
		if !ok || pl != p.id() || host == a.name || w.Nonce != p.rec.Info.Nonce || !a.rep.Alive(host) {
			continue
		}
		b, give := a.pick(p, w.Block)
		if p.served[e.Key] == w.Req {
			continue
		}
		if !give && w.IP != "" {
			lent, err := a.lend(p, w, host)
			if err != nil {
				return err
			}
			if lent {
				p.served[e.Key] = w.Req
			}
			continue
		}
		if !give {
			continue
		}
		if err := a.give(p, b, host); err != nil {
			return err
		}
		p.served[e.Key] = w.Req
	}
	return nil
}

// pick chooses the block to give for a want of block want (-1: any).
func (a *Allocator) pick(p *pool, want int) (int, bool) {
	if want >= 0 {
		return want, p.holds(want) && p.used[want] == 0
	}
	if a.wanting(p) {
		return 0, false // starved itself: space just received is not passed on
	}
	empty := p.emptyHeld()
	if len(empty) == 0 {
		return 0, false
	}
	if len(empty) == 1 && len(p.leases) > 0 && !p.roomOutside(empty[0]) {
		return 0, false // the last free space of a host that uses the pool
	}
	return empty[len(empty)-1], true
}

// roomOutside reports a free address in a held block other than skip.
func (p *pool) roomOutside(skip int) bool {
	for b, r := range p.ledger {
		if r.Held && b != skip && uint64(p.used[b]) < p.capacity(b) {
			return true
		}
	}
	return false
}

// wanting reports whether this host has a live want for p.
func (a *Allocator) wanting(p *pool) bool {
	e, ok := a.rep.Get(kindWant, pairKey(p.id(), a.name))
	return ok && !e.Deleted
}
