package ipalloc

import (
	"fmt"
	"net/netip"

	"github.com/weavego/weavego/internal/record"
)

// gateway answers Docker's gateway request. The gateway is part of the
// pool's description, the same on every host; only the host that created
// the pool may move it (to an address of space it holds and has not
// leased), which releases the default gateway for leasing.
func (a *Allocator) gateway(p *pool, ip netip.Addr) (netip.Addr, error) {
	if !ip.IsValid() || ip == p.gw {
		return p.gw, nil
	}
	if !p.sp.subnet.Contains(ip) || ip == p.sp.network() || ip == p.sp.broadcast() {
		return netip.Addr{}, fmt.Errorf("gateway %s is not a host address of subnet %s: %w", ip, p.id(), ErrOutOfPool)
	}
	if p.rec.Info.Seeder != a.name {
		a.refreshInfo(p)
		if ip == p.gw {
			return p.gw, nil
		}
		return netip.Addr{}, fmt.Errorf("network with subnet %s uses gateway %s (created on host %s); create it here with --gateway %s: %w",
			p.id(), p.gw, p.rec.Info.Seeder, p.gw, ErrInvalidRequest)
	}
	if l, taken := p.leases[ip]; taken {
		return netip.Addr{}, a.inUse(ip, l)
	}
	if b, inRange := p.blockOfAddr(ip); inRange && !p.holds(b) {
		return netip.Addr{}, fmt.Errorf("gateway %s of pool %s cannot be set: host %s holds that address: %w",
			ip, p.id(), a.holderOf(p, b), ErrAddressInUse)
	}
	p.setGateway(ip)
	e := a.rep.Set(KindPool, p.id(), record.Encode(p.rec.Info))
	p.rec.Version = e.Version
	return ip, a.savePool(p)
}

// refreshInfo takes a gateway change made by the pool's seeder, and a new
// seeder after RemovePeer took the pool over.
func (a *Allocator) refreshInfo(p *pool) {
	e, ok := a.rep.Get(KindPool, p.id())
	w, valid := decode[poolInfo](e)
	if !ok || !valid || w.Nonce != p.rec.Info.Nonce || p.rec.Info.Seeder == a.name {
		return
	}
	if w.Seeder != p.rec.Info.Seeder {
		p.rec.Info.Seeder = w.Seeder
		if err := a.savePool(p); err != nil {
			a.log.Error("save new seeder", "pool", p.id(), "err", err)
		}
	}
	if w.Gateway == p.rec.Info.Gateway {
		return
	}
	gw, err := netip.ParseAddr(w.Gateway)
	if _, leased := p.leases[gw]; err != nil || leased {
		a.problem("gateway "+p.id(), fmt.Sprintf("pool %s: gateway %s set on host %s is leased here", p.id(), w.Gateway, w.Seeder))
		return
	}
	p.setGateway(gw)
	if err := a.savePool(p); err != nil {
		a.log.Error("save gateway change", "pool", p.id(), "err", err)
	}
}
