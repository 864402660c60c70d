package ipalloc

import "slices"

// openElsewhere returns the other hosts that have p open (a used entry for
// this incarnation of the pool), sorted.
func (a *Allocator) openElsewhere(p *pool) []string {
	var out []string
	for _, e := range a.rep.List(KindUsed) {
		pl, host := splitPair(e.Key)
		if u, ok := decode[usedInfo](e); ok && pl == p.id() && host != a.name && u.Nonce == p.rec.Info.Nonce {
			out = append(out, host)
		}
	}
	slices.Sort(out)
	return out
}

// serveWants hands blocks of p to reachable hosts that asked for them: the
// block holding a static address if it is empty, or an empty block chosen
// by pick.
//
// Each request is answered once (by its Req, not the entry's version: a
// tombstone reaped by mesh restarts versions); the asker asks again if it
// needs more.
func (a *Allocator) serveWants(p *pool) error {
	if !p.rec.Confirmed && p.rec.Info.Seeder == a.name {
		return nil // an unconfirmed claim may still lose: give nothing from it
	}
	for _, e := range a.rep.List(KindWant) {
		pl, host := splitPair(e.Key)
		w, ok := decode[wantInfo](e)
		if !ok || pl != p.id() || host == a.name || w.Nonce != p.rec.Info.Nonce || !a.rep.Alive(host) {
			continue
		}
		if p.served[e.Key] == w.Req {
			continue
		}
		b, give := a.pick(p, e.Key, w)
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

// pick chooses the block to give for want w (key: its entry's key): the
// block of a static address if it is empty; else an empty block this host
// can spare beyond its own reserve; else, for a waiting request (not a
// reserve) that no spare space answered within reserveGrace, this host's
// reserve, unless it is the last free space of a host that uses the pool.
func (a *Allocator) pick(p *pool, key string, w wantInfo) (int, bool) {
	if w.Block >= 0 {
		return w.Block, p.holds(w.Block) && p.used[w.Block] == 0
	}
	if a.waiting(p) {
		return 0, false // starved itself: space just received is not passed on
	}
	empty := p.emptyHeld()
	if len(empty) == 0 {
		return 0, false
	}
	b := empty[len(empty)-1]
	switch {
	case p.freeHeld() >= p.capacity(b)+p.reserveTarget():
		return b, true
	case w.Reserve:
		return 0, false
	case len(empty) == 1 && len(p.leases) > 0 && !p.roomOutside(b):
		return 0, false
	}
	return b, a.waitedLong(p, key, w)
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

// waiting reports whether a request of this host waits for space in p (a
// live want not marked Reserve).
func (a *Allocator) waiting(p *pool) bool {
	e, ok := a.rep.Get(KindWant, pairKey(p.id(), a.name))
	w, live := decode[wantInfo](e)
	return ok && live && !w.Reserve
}
