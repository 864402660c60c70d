package ipalloc

import (
	"net/netip"

	"go.etcd.io/bbolt"

	"github.com/weavego/weavego/internal/record"
	"github.com/weavego/weavego/mesh"
)

// Lending: an address asked for by number (docker run --ip) that lies in a
// block another host holds and uses cannot move with its block, so the
// holder leases it itself, marked as lent, and writes a lend entry naming
// the borrower; the borrower keeps it as a lease From the holder and, when
// it releases it, deletes the entry, which tells the holder to free it.
// The address is leased on exactly one host's books (the holder's), so the
// one-writer rule still holds.

// lends returns the live lend entries of p, by address.
func (a *Allocator) lends(p *pool) map[netip.Addr]mesh.Entry {
	out := map[netip.Addr]mesh.Entry{}
	for _, e := range a.rep.List(KindLend) {
		pl, addr := splitPair(e.Key)
		ip, err := netip.ParseAddr(addr)
		if l, ok := decode[lendInfo](e); ok && err == nil && pl == p.id() && l.Nonce == p.rec.Info.Nonce {
			out[ip] = e
		}
	}
	return out
}

// lentToMe returns the host that lent ip to this host, if one did.
func (a *Allocator) lentToMe(p *pool, ip netip.Addr) (string, bool) {
	e, ok := a.rep.Get(KindLend, pairKey(p.id(), ip.String()))
	l, valid := decode[lendInfo](e)
	if !ok || !valid || l.To != a.name || l.Nonce != p.rec.Info.Nonce || e.Owner == a.name {
		return "", false
	}
	return e.Owner, true
}

// lend answers a want for a single address of a block this host uses.
func (a *Allocator) lend(p *pool, w wantInfo, to string) (bool, error) {
	ip, err := netip.ParseAddr(w.IP)
	if err != nil {
		return false, nil //nolint:nilerr // a want naming no valid address is not lent; not an error of this host
	}
	b, ok := p.blockOfAddr(ip)
	if _, leased := p.leases[ip]; !ok || leased || p.reserved(ip) || !p.holds(b) || !p.rec.Confirmed {
		return false, nil
	}
	if err := a.lease(p, ip, lease{Static: true, Lent: to}); err != nil {
		return false, err
	}
	a.rep.Set(KindLend, pairKey(p.id(), ip.String()), record.Encode(lendInfo{Nonce: p.rec.Info.Nonce, To: to}))
	a.log.Debug("address lent", "pool", p.id(), "ip", ip, "peer", to)
	return true, nil
}

// syncLends frees addresses their borrower returned (or that were lent to a
// removed host), republishes lend entries lost in a restart of the whole
// cluster, and returns addresses lent to this host that it no longer wants
// (the request that asked for them timed out).
func (a *Allocator) syncLends(p *pool) error {
	for ip, l := range p.leases {
		if l.Lent == "" {
			continue
		}
		key := pairKey(p.id(), ip.String())
		e, ok := a.rep.Get(KindLend, key)
		removed := a.isRemoved(l.Lent)
		switch {
		case ok && e.Deleted && e.Owner == l.Lent:
			if err := a.unlease(p, ip); err != nil {
				return err
			}
		case removed && !a.rep.Alive(l.Lent):
			if err := a.unlease(p, ip); err != nil {
				return err
			}
			// A live entry naming a removed borrower would later make a
			// host taking over this space lend the address to nobody.
			a.rep.Delete(KindLend, key)
		case !ok:
			a.rep.Set(KindLend, key, record.Encode(lendInfo{Nonce: p.rec.Info.Nonce, To: l.Lent}))
		}
	}
	want, _ := a.rep.Get(KindWant, pairKey(p.id(), a.name))
	w, wanting := decode[wantInfo](want)
	for ip, e := range a.lends(p) {
		l, _ := decode[lendInfo](e)
		if l.To == a.name && p.leases[ip].From == "" && !(wanting && w.IP == ip.String()) {
			a.rep.Delete(KindLend, e.Key)
		}
	}
	return nil
}

// unlease frees a lease this host holds.
func (a *Allocator) unlease(p *pool, ip netip.Addr) error {
	err := a.update("address "+ip.String(), func(tx *bbolt.Tx) error { return putLease(tx, p.id(), ip, nil) })
	if err == nil {
		p.remove(ip)
	}
	return err
}

// takeLends makes this host, taking over gone's space, the lender of the
// addresses gone had lent: those its lend entries name and, in case those
// entries have not arrived yet, those other hosts report leased in space
// gone held (a host that did not borrow one returns it). Addresses this
// host had borrowed there become its own.
func (a *Allocator) takeLends(p *pool, gone string, taken map[int]bool) {
	a.ownBorrowed(p)
	for ip, h := range a.usedElsewhere(p) {
		b, _ := p.blockOfAddr(ip)
		if _, leased := p.leases[ip]; leased || !taken[b] || h == gone {
			continue
		}
		if err := a.lease(p, ip, lease{Static: true, Lent: h}); err != nil {
			a.log.Error("take over lent address", "pool", p.id(), "ip", ip, "err", err)
			continue
		}
		a.rep.Set(KindLend, pairKey(p.id(), ip.String()), record.Encode(lendInfo{Nonce: p.rec.Info.Nonce, To: h}))
	}
	for ip, e := range a.lends(p) {
		l, _ := decode[lendInfo](e)
		b, _ := p.blockOfAddr(ip)
		_, leased := p.leases[ip] // own, or already taken over: the entry is stale
		if leased || e.Owner != gone || !p.holds(b) || l.To == gone || l.To == a.name || a.isRemoved(l.To) {
			continue
		}
		if err := a.lease(p, ip, lease{Static: true, Lent: l.To}); err != nil {
			a.log.Error("take over lent address", "pool", p.id(), "ip", ip, "err", err)
			continue
		}
		a.rep.Set(KindLend, e.Key, e.Value)
	}
}

// ownBorrowed makes the addresses this host borrowed in blocks it now holds
// its own leases, so that the block counts them and is never handed over
// with them. Their From may name a host other than the one whose space was
// just taken over: after an earlier RemovePeer of the original lender, the
// host that took its space lent them on without the borrower knowing.
func (a *Allocator) ownBorrowed(p *pool) {
	for ip, l := range p.leases {
		b, _ := p.blockOfAddr(ip)
		if l.From == "" || !p.holds(b) {
			continue
		}
		l.From = ""
		if err := a.lease(p, ip, l); err != nil {
			a.log.Error("own borrowed address", "pool", p.id(), "ip", ip, "err", err)
			continue
		}
		if e, ok := a.rep.Get(KindLend, pairKey(p.id(), ip.String())); ok && !e.Deleted {
			a.rep.Delete(KindLend, e.Key)
		}
	}
}
