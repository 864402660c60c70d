package ipalloc

import (
	"time"

	"github.com/weavego/weavego/internal/record"
)

// Reserves: every host that has a pool open keeps free space of its own in
// it, at least one block's worth of addresses, so that it goes on leasing
// while it cannot reach the others. When its free space drops below that,
// Run asks in the background (a want marked Reserve); only a holder with
// space to spare beyond its own reserve answers such a want. A request that
// is waiting for space (a want not marked Reserve) is answered at once from
// spare space and, if none came within reserveGrace, from another host's
// reserve: when the pool is short, unused reserves go where containers
// start, and each host then asks for its reserve again in the background.
// A reserve is one or two blocks, so a /24 (64 blocks of 4) shared by many
// hosts keeps most of its space where it is used.

// reserveState is this host's bookkeeping of reserves in one pool; it is
// not saved (a restart asks again).
type reserveState struct {
	req    string // Req of this host's background want, "" if none
	gained int    // blocks adopted since the pool was loaded
	at     int    // gained when req was written: a later block answered it
	// seen is when a holder first saw each waiting request of another
	// host, by want key, to give its own reserve only after reserveGrace.
	seen map[string]seenWant
}

type seenWant struct {
	req   string
	since time.Time
}

// reserveTarget is the free space this host keeps in p: one block's worth
// of addresses while the pool is open here, none once it is not.
func (p *pool) reserveTarget() uint64 {
	if p.rec.Refs <= 0 {
		return 0
	}
	return p.sp.blockSize
}

// freeHeld counts the free addresses in the blocks this host holds.
func (p *pool) freeHeld() uint64 {
	var n uint64
	for _, b := range p.heldBlocks() {
		n += p.capacity(b) - min(uint64(p.used[b]), p.capacity(b))
	}
	return n
}

// keepReserve asks in the background for a block of p while this host's
// free space there is below its reserve target, and withdraws the request
// once it is not. A want of a waiting request is left alone.
func (a *Allocator) keepReserve(p *pool) {
	key := pairKey(p.id(), a.name)
	e, ok := a.rep.Get(KindWant, key)
	cur, live := decode[wantInfo](e)
	live = ok && live
	if live && !cur.Reserve {
		return
	}
	if !p.rec.Confirmed || p.freeHeld() >= p.reserveTarget() {
		if live {
			a.rep.Delete(KindWant, key)
		}
		p.rsv.req = ""
		return
	}
	if live && cur.Req == p.rsv.req && cur.Nonce == p.rec.Info.Nonce && p.rsv.at == p.rsv.gained {
		return // still unanswered
	}
	p.rsv.req, p.rsv.at = newNonce(), p.rsv.gained
	a.rep.Set(KindWant, key, record.Encode(wantInfo{Nonce: p.rec.Info.Nonce, Req: p.rsv.req, Block: -1, Reserve: true}))
}

// reserveGrace is how long a request waits for spare space before hosts
// give it their reserve.
func (a *Allocator) reserveGrace() time.Duration { return a.cfg.SpaceTimeout / 4 }

// waitedLong reports whether the waiting request of want key has stood
// reserveGrace since this host first saw it.
func (a *Allocator) waitedLong(p *pool, key string, w wantInfo) bool {
	if p.rsv.seen == nil {
		p.rsv.seen = map[string]seenWant{}
	}
	s, ok := p.rsv.seen[key]
	if !ok || s.req != w.Req {
		p.rsv.seen[key] = seenWant{req: w.Req, since: time.Now()}
		return false
	}
	return time.Since(s.since) >= a.reserveGrace()
}
