package ipalloc

import (
	"cmp"
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
	resv   [3]int                  // blocks of the network, broadcast and gateway addresses (-1: none)
	cur    int                     // block last leased from: tried first
	served map[string]string       // want key -> request answered (not saved)
	rsv    reserveState            // this host's background request for space (not saved)
	recent map[netip.Addr]released // addresses released lately, to hand back (saved, handback.go)
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

// free returns a free address in the held blocks, filling the block last
// leased from, then the fullest partly used block first, so that empty
// blocks stay free to hand over. An address released lately (kept, see
// handback.go) is taken only when no other is free.
func (p *pool) free() (netip.Addr, bool) {
	if p.holds(p.cur) {
		if a, kept, ok := p.freeIn(p.cur); ok && !kept {
			return a, true // the common case, without ordering every block
		}
	}
	var spare netip.Addr
	spareBlock := -1
	for _, b := range p.fillOrder() {
		a, kept, ok := p.freeIn(b)
		if ok && !kept {
			p.cur = b
			return a, true
		}
		if ok && !spare.IsValid() {
			spare, spareBlock = a, b
		}
	}
	if spare.IsValid() {
		p.cur = spareBlock
	}
	return spare, spare.IsValid()
}

// freeIn returns the first free address of held block b, preferring one
// not kept.
func (p *pool) freeIn(b int) (addr netip.Addr, kept, ok bool) {
	lo, hi := p.sp.blockRange(b)
	for off := lo; off < hi; off++ {
		a := p.sp.addr(off)
		if _, taken := p.leases[a]; taken || p.reserved(a) {
			continue
		}
		if !p.kept(a) {
			return a, false, true
		}
		if !addr.IsValid() {
			addr = a
		}
	}
	return addr, addr.IsValid(), addr.IsValid()
}

// fillOrder returns the held blocks with room: the block last leased from
// first, then by most leases, then by number.
func (p *pool) fillOrder() []int {
	var out []int
	for b, r := range p.ledger {
		if r.Held && uint64(p.used[b]) < p.capacity(b) {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(x, y int) int {
		if (x == p.cur) != (y == p.cur) {
			if x == p.cur {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(p.used[y], p.used[x]); c != 0 {
			return c
		}
		return cmp.Compare(x, y)
	})
	return out
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
	delete(p.recent, a)
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
