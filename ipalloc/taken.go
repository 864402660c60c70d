package ipalloc

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/weavego/weavego/mesh"
)

// takenBy returns the host that holds, by block entry e, a block this host
// holds by its ledger r, or "" if none does. Only the holder writes a held
// block's entry, so an entry by another host at r's version or above that
// names another holder means the block was taken over (RemovePeer or
// Config.ReclaimAfter) while this host held it. At an equal version the two
// writes raced and the merge, the same everywhere, picked the other one.
func (a *Allocator) takenBy(e mesh.Entry, ok bool, r blockRec) string {
	info, valid := decode[blockInfo](e)
	if !ok || !valid || !r.Held || e.Owner == a.name || e.Version < r.Version || info.Holder == a.name {
		return ""
	}
	return info.Holder
}

// loseBlock stops this host leasing from block b of p, taken over by host
// taker, and reports the leases there that may collide with the taker's.
func (a *Allocator) loseBlock(p *pool, b int, e mesh.Entry, taker string) error {
	if err := a.saveBlock(p, b, blockRec{Version: e.Version}); err != nil {
		return err
	}
	addrs := leasesIn(p, b)
	if len(addrs) == 0 {
		a.log.Info("block taken over by another host; none of its addresses was leased here",
			"block", e.Key, "pool", p.id(), "taker", taker)
		return nil
	}
	a.log.Warn("block taken over by another host while this host held it: it leases no more from it, and its leases there may collide",
		"block", e.Key, "pool", p.id(), "addresses", blockSpan(p, b), "taker", taker, "leases", strings.Join(addrs, ","))
	a.reportTaken(p, b, e.Key, taker)
	return nil
}

// reportTaken records in Status that leases of this host lie in block b of
// p, which another host holds (the taker, or whoever it handed it to).
func (a *Allocator) reportTaken(p *pool, b int, key, holder string) {
	addrs := leasesIn(p, b)
	a.problem("block "+key, fmt.Sprintf("addresses %s of pool %s were taken over by host %s (rmpeer or IPALLOC_RECLAIM_AFTER) while this host held them; this host leases no more from them, and its %d leases there may collide: %s; recreate those containers",
		blockSpan(p, b), p.id(), holder, len(addrs), strings.Join(addrs, ", ")))
}

// leasesIn returns this host's own leases (lent ones included, borrowed
// ones not) in block b of p, sorted.
func leasesIn(p *pool, b int) []string {
	var ips []netip.Addr
	for ip, l := range p.leases {
		if blk, _ := p.blockOfAddr(ip); blk == b && l.From == "" {
			ips = append(ips, ip)
		}
	}
	slices.SortFunc(ips, netip.Addr.Compare)
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.String()
	}
	return out
}

// checkTaken reports whether held block b of p was taken by another host
// since the last Sync, and if so gives it up as Sync would, so that no
// lease is made from it in between.
func (a *Allocator) checkTaken(p *pool, b int) bool {
	key := blockKey(p.id(), p.rec.Info.Nonce, b)
	e, ok := a.rep.Get(KindBlock, key)
	taker := a.takenBy(e, ok, p.ledger[b])
	if taker == "" {
		return false
	}
	if err := a.loseBlock(p, b, e, taker); err != nil {
		a.log.Error("give up a block taken over", "block", key, "err", err)
	}
	return true
}

// freeUntaken is pool.free that skips (and gives up) blocks taken over.
func (a *Allocator) freeUntaken(p *pool) (netip.Addr, bool) {
	for {
		ip, ok := p.free()
		if !ok {
			return ip, false
		}
		b, _ := p.blockOfAddr(ip)
		if !a.checkTaken(p, b) {
			return ip, true
		}
		if p.holds(b) {
			return netip.Addr{}, false // could not save the loss: lease nothing
		}
	}
}
