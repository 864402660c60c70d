package ipalloc

import (
	"cmp"
	"slices"
)

// Status reports, per pool, what each host holds, uses and has free, which
// holders are unreachable, and the problems found (conflicts, mismatched
// ranges). It reflects this host's view of the gossip, which may lag.
func (a *Allocator) Status() Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := Status{Host: a.name, Range: a.allocRange.String(), Range6: a.range6.String()}
	for id, info := range a.knownPools() {
		p := a.pools[id]
		if p == nil || p.rec.Info.Nonce != info.Nonce {
			var err error
			if p, err = newPool(poolRecord{Info: info}); err != nil {
				continue
			}
		}
		st.Pools = append(st.Pools, a.poolStatus(p))
	}
	slices.SortFunc(st.Pools, func(x, y PoolStatus) int { return cmp.Compare(x.ID, y.ID) })
	for _, msg := range a.problems {
		st.Problems = append(st.Problems, msg)
	}
	slices.Sort(st.Problems)
	return st
}

func (a *Allocator) poolStatus(p *pool) PoolStatus {
	shares := map[string]*HostShare{}
	share := func(h string) *HostShare {
		if shares[h] == nil {
			shares[h] = &HostShare{Host: h, Reachable: h == a.name || a.rep.Alive(h)}
		}
		return shares[h]
	}
	for b := range p.sp.blocks() {
		share(a.holderOf(p, b)).Owned += p.capacity(b)
	}
	self := share(a.name)
	self.Used, self.Reserve = uint64(len(p.leases)), p.freeHeld()
	open := map[string]bool{}
	for _, h := range a.usedHosts(p) {
		s := share(h.host)
		s.Used, s.Reserve, open[h.host] = h.n, h.free, true
	}
	ps := PoolStatus{ID: p.id(), IPRange: p.rec.Info.Range, Gateway: p.rec.Info.Gateway, Seeder: p.rec.Info.Seeder}
	for _, s := range shares {
		if s.Owned == 0 && s.Used == 0 && s.Host != a.name && !open[s.Host] {
			continue
		}
		s.Free = s.Owned - min(s.Used, s.Owned)
		ps.Hosts = append(ps.Hosts, *s)
	}
	slices.SortFunc(ps.Hosts, func(x, y HostShare) int { return cmp.Compare(x.Host, y.Host) })
	return ps
}

type hostCount struct {
	host    string
	n, free uint64
}

// usedHosts counts the leases and free held addresses other hosts report
// in p.
func (a *Allocator) usedHosts(p *pool) []hostCount {
	var out []hostCount
	for _, e := range a.rep.List(KindUsed) {
		pl, host := splitPair(e.Key)
		if u, ok := decode[usedInfo](e); ok && pl == p.id() && host != a.name && u.Nonce == p.rec.Info.Nonce {
			out = append(out, hostCount{host: host, n: uint64(len(u.Addrs)), free: u.Free})
		}
	}
	return out
}
