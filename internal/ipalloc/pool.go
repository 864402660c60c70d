package ipalloc

import (
	"fmt"
	"net/netip"
	"slices"
)

// pool is this host's state of one pool. It is guarded by Allocator.mu.
type pool struct {
	rec    poolRecord
	sp     space
	gw     netip.Addr
	ledger map[int]blockRec // blocks this host holds, gave or was given
	used   map[int]int      // live leases per block
	leases map[netip.Addr]lease
	resv   [3]int            // blocks of the network, broadcast and gateway addresses (-1: none)
	cur    int               // block last leased from: tried first
	served map[string]string // want key -> request answered (not saved)
	rsv    reserveState      // this host's background request for space (not saved)
}

// newPool builds the in-memory state of a pool from its description.
func newPool(rec poolRecord) (*pool, error) {
	subnet, err := netip.ParsePrefix(rec.Info.Subnet)
	if err != nil {
		return nil, fmt.Errorf("pool %q: bad subnet: %w", rec.Info.Subnet, ErrCorruptState)
	}
	rng, err := netip.ParsePrefix(rec.Info.Range)
	if err != nil {
		return nil, fmt.Errorf("pool %s: bad range %q: %w", rec.Info.Subnet, rec.Info.Range, ErrCorruptState)
	}
	gw, err := netip.ParseAddr(rec.Info.Gateway)
	if err != nil {
		return nil, fmt.Errorf("pool %s: bad gateway %q: %w", rec.Info.Subnet, rec.Info.Gateway, ErrCorruptState)
	}
	p := &pool{rec: rec, sp: newSpace(subnet, rng), ledger: map[int]blockRec{}, served: map[string]string{},
		used: map[int]int{}, leases: map[netip.Addr]lease{}}
	p.setGateway(gw)
	return p, nil
}

// setGateway moves the gateway and recomputes which blocks hold reserved addresses.
func (p *pool) setGateway(gw netip.Addr) {
	p.gw, p.rec.Info.Gateway = gw, gw.String()
	for i, a := range []netip.Addr{p.gw, p.sp.network(), p.sp.broadcast()} {
		p.resv[i] = -1
		if off, ok := p.sp.offset(a); ok {
			p.resv[i] = p.sp.blockOf(off)
		}
	}
}

func (p *pool) id() string { return p.rec.Info.Subnet }

// holds reports whether this host may allocate from block b.
func (p *pool) holds(b int) bool { return p.ledger[b].Held }

// reserved reports addresses never leased: network, broadcast, gateway.
func (p *pool) reserved(a netip.Addr) bool {
	return a == p.gw || a == p.sp.network() || a == p.sp.broadcast()
}

// capacity is the number of leasable addresses in block b.
func (p *pool) capacity(b int) uint64 {
	lo, hi := p.sp.blockRange(b)
	n := hi - lo
	for _, r := range p.resv {
		if r == b {
			n--
		}
	}
	return n
}

// total is the number of leasable addresses in the whole pool.
func (p *pool) total() uint64 {
	var n uint64
	for b := range p.sp.blocks() {
		n += p.capacity(b)
	}
	return n
}

// heldBlocks returns the held blocks in ascending order.
func (p *pool) heldBlocks() []int {
	var out []int
	for b, r := range p.ledger {
		if r.Held {
			out = append(out, b)
		}
	}
	slices.Sort(out)
	return out
}

// free returns a free address in the held blocks, filling the fullest
// partly used block first so that empty blocks stay free to hand over.
func (p *pool) free() (netip.Addr, bool) {
	best := p.cur
	if !p.holds(best) || uint64(p.used[best]) >= p.capacity(best) {
		best = p.fullestFree()
	}
	if best < 0 {
		return netip.Addr{}, false
	}
	p.cur = best
	lo, hi := p.sp.blockRange(best)
	for off := lo; off < hi; off++ {
		a := p.sp.addr(off)
		if _, taken := p.leases[a]; !taken && !p.reserved(a) {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// fullestFree returns the held block with the most leases that still has
// room, or -1.
func (p *pool) fullestFree() int {
	best, bestUsed := -1, -1
	for b, r := range p.ledger {
		u := p.used[b]
		if r.Held && uint64(u) < p.capacity(b) && (u > bestUsed || u == bestUsed && b < best) {
			best, bestUsed = b, u
		}
	}
	return best
}

// blockOfAddr returns the block containing a, or false if a is outside the range.
func (p *pool) blockOfAddr(a netip.Addr) (int, bool) {
	off, ok := p.sp.offset(a)
	if !ok {
		return 0, false
	}
	return p.sp.blockOf(off), true
}

// add and remove keep used (the leases in blocks this host holds or held,
// borrowed addresses excluded) in step with leases.
func (p *pool) add(a netip.Addr, l lease) {
	if _, ok := p.leases[a]; ok {
		p.remove(a) // replacing a lease, e.g. a borrowed one that became own
	}
	b, _ := p.blockOfAddr(a)
	p.leases[a] = l
	if l.From == "" {
		p.used[b]++
	}
}

func (p *pool) remove(a netip.Addr) {
	b, _ := p.blockOfAddr(a)
	l, ok := p.leases[a]
	delete(p.leases, a)
	if ok && l.From == "" {
		if p.used[b]--; p.used[b] <= 0 {
			delete(p.used, b)
		}
	}
}

// emptyHeld returns held blocks without leases, ascending.
func (p *pool) emptyHeld() []int {
	var out []int
	for _, b := range p.heldBlocks() {
		if p.used[b] == 0 {
			out = append(out, b)
		}
	}
	return out
}
