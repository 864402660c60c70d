package ipalloc

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/bbolt"

	"github.com/weavego/weavego/internal/record"
	"github.com/weavego/weavego/mesh"
)

// blockEntries returns the replicated block entries of p, by block.
func (a *Allocator) blockEntries(p *pool) map[int]mesh.Entry {
	prefix := record.Join(record.SepPrefix, p.id(), p.rec.Info.Nonce, "")
	out := map[int]mesh.Entry{}
	for _, e := range a.rep.List(KindBlock) {
		if rest, ok := strings.CutPrefix(e.Key, prefix); ok {
			if b, err := strconv.Atoi(rest); err == nil && b >= 0 && b < p.sp.blocks() {
				out[b] = e
			}
		}
	}
	return out
}

// holderOf returns the host holding block b of p: this host by its ledger,
// others by the block entries; a block no entry names is its seeder's.
func (a *Allocator) holderOf(p *pool, b int) string {
	if p.holds(b) {
		return a.name
	}
	e, ok := a.rep.Get(KindBlock, blockKey(p.id(), p.rec.Info.Nonce, b))
	if info, valid := decode[blockInfo](e); ok && valid {
		return info.Holder
	}
	return p.rec.Info.Seeder
}

// usedElsewhere maps the addresses other hosts report leased in p to them.
func (a *Allocator) usedElsewhere(p *pool) map[netip.Addr]string {
	out := map[netip.Addr]string{}
	for _, e := range a.rep.List(KindUsed) {
		pl, host := splitPair(e.Key)
		u, ok := decode[usedInfo](e)
		if pl != p.id() || host == a.name || !ok || u.Nonce != p.rec.Info.Nonce {
			continue
		}
		for _, s := range u.Addrs {
			if ip, err := netip.ParseAddr(s); err == nil {
				out[ip] = host
			}
		}
	}
	return out
}

// exhausted reports a pool whose every address is leased, cluster-wide.
func (a *Allocator) exhausted(p *pool) error {
	total := p.total()
	used := a.usedElsewhere(p) // a lent address is on both lists: count it once
	for ip := range p.leases {
		used[ip] = a.name
	}
	if uint64(len(used)) < total {
		return nil
	}
	return fmt.Errorf("pool %s is exhausted: all %d addresses are in use: %w", p.id(), total, ErrPoolExhausted)
}

// heldElsewhere explains why ip, in block b held by another host, cannot be
// had, or returns nil if that host may hand the block over or lend ip.
func (a *Allocator) heldElsewhere(p *pool, ip netip.Addr) error {
	used := a.usedElsewhere(p)
	if h, ok := used[ip]; ok {
		return fmt.Errorf("address %s is already in use on host %s: %w", ip, h, ErrAddressInUse)
	}
	return nil
}

// waitForSpace asks the other hosts for space (a want entry) and waits, at
// most Config.SpaceTimeout, until a holder hands a block over.
func (a *Allocator) waitForSpace(ctx context.Context, req AddressRequest, ip netip.Addr) (netip.Addr, error) {
	ch, cancel := a.rep.Subscribe()
	defer cancel()
	deadline := time.Now().Add(a.cfg.SpaceTimeout)
	w := wantInfo{Req: newNonce(), Block: -1}
	for {
		a.mu.Lock()
		got, done, err := a.spaceStep(req, ip, w, time.Now().After(deadline))
		a.mu.Unlock()
		if done {
			return got, err
		}
		if err := waitSignal(ctx, ch); err != nil {
			a.mu.Lock()
			a.withdrawWant(req.PoolID)
			a.mu.Unlock()
			return netip.Addr{}, fmt.Errorf("wait for space in pool %s: %w", req.PoolID, err)
		}
	}
}

func (a *Allocator) spaceStep(req AddressRequest, ip netip.Addr, w wantInfo, expired bool) (netip.Addr, bool, error) {
	p, err := a.pool(req.PoolID)
	if err != nil {
		return netip.Addr{}, true, err
	}
	a.adopt(p)
	got, q, retry, err := a.tryLease(p, ip, leaseFor(req, ip))
	if err == nil {
		err = a.settleHeld(q)
	}
	if err != nil || !retry {
		a.withdrawWant(p.id())
		return got, true, err
	}
	if expired {
		a.withdrawWant(p.id())
		return netip.Addr{}, true, a.noSpace(p, ip)
	}
	w.Nonce = p.rec.Info.Nonce
	if ip.IsValid() {
		w.Block, _ = p.blockOfAddr(ip)
		w.IP = ip.String()
	}
	e, ok := a.rep.Get(KindWant, pairKey(p.id(), a.name))
	if cur, valid := decode[wantInfo](e); !ok || !valid || cur != w {
		a.rep.Set(KindWant, pairKey(p.id(), a.name), record.Encode(w))
	}
	return netip.Addr{}, false, nil
}

func (a *Allocator) withdrawWant(id string) {
	if e, ok := a.rep.Get(KindWant, pairKey(id, a.name)); ok && !e.Deleted {
		a.rep.Delete(KindWant, pairKey(id, a.name))
	}
}

// noSpace is the error of a starved request: which range, whom it asked.
func (a *Allocator) noSpace(p *pool, ip netip.Addr) error {
	var asked, away []string
	for _, h := range a.holders(p) {
		if h == a.name {
			continue
		}
		if a.rep.Alive(h) {
			asked = append(asked, h)
		} else {
			away = append(away, h)
		}
	}
	what := fmt.Sprintf("no free address of pool %s (range %s) on host %s", p.id(), p.rec.Info.Range, a.name)
	if ip.IsValid() {
		b, _ := p.blockOfAddr(ip)
		what = fmt.Sprintf("address %s of pool %s is in space held by host %s", ip, p.id(), a.holderOf(p, b))
	}
	return fmt.Errorf("%s, and no host handed space over within %s (asked: %s; unreachable: %s): %w",
		what, a.cfg.SpaceTimeout, listOrNone(asked), listOrNone(away), ErrNoSpace)
}

// holders returns the hosts holding blocks of p, sorted.
func (a *Allocator) holders(p *pool) []string {
	var out []string
	for b := range p.sp.blocks() {
		if h := a.holderOf(p, b); !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	slices.Sort(out)
	return out
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// adopt takes the blocks of p that their holder handed to this host: it
// saves them as held, then writes their entry itself, becoming their writer.
func (a *Allocator) adopt(p *pool) {
	for b, e := range a.blockEntries(p) {
		info, ok := decode[blockInfo](e)
		r := p.ledger[b]
		if !ok || info.Holder != a.name || e.Owner == a.name || r.Held || e.Version <= r.Version || b >= p.sp.blocks() {
			continue
		}
		r = blockRec{Held: true, Version: e.Version + 1}
		if err := a.update("block "+e.Key, func(tx *bbolt.Tx) error { return putBlock(tx, p.id(), b, r) }); err != nil {
			a.log.Error("adopt block", "block", e.Key, "err", err)
			continue
		}
		p.ledger[b] = r
		p.rsv.gained++
		a.rep.Set(KindBlock, e.Key, record.Encode(blockInfo{Holder: a.name}))
	}
}
