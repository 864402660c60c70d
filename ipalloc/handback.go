package ipalloc

import (
	"net/netip"
	"time"
)

// Handing addresses back. Docker releases a container's address when the
// container stops and asks for one with no preference when it starts it
// again: after dockerd crashed, a container with a restart policy is
// stopped, its address released, and the container started again. So that
// such a container comes back at its address, a host remembers, in memory,
// the addresses it released in the last handBackFor, and:
//   - a request that names its endpoint (Docker 29 and later pass the
//     container's name) gets the address last released under that name;
//   - a request with no name (Docker 20.10 names nothing) gets the address
//     released last without a name: the container's own when it is the
//     only one of the network starting again on this host at that moment
//     (with several, each gets one of theirs, in the order they ask);
//   - any other request prefers, in the block it leases from, addresses not
//     released lately, so that a new container does not take a returning
//     one's address while others are free.
//
// This is a preference, never a reservation: only a free address of a
// block this host holds, and that was not taken over, is handed back,
// through the same lease as any other, so no address is ever leased twice.
// A pool whose space runs short uses remembered addresses like any other.

// handBackFor is how long a released address is remembered for its
// endpoint; dockerd restarts containers within seconds of releasing them.
const handBackFor = 5 * time.Minute

// maxReleased bounds the addresses remembered per pool; the oldest go first.
const maxReleased = 256

// released is an address this host released lately, and whose it was.
type released struct {
	name string // the endpoint's name, "" if Docker gave none
	at   time.Time
}

// remember records that ip, leased as l, was just released.
func (p *pool) remember(ip netip.Addr, l lease, now time.Time) {
	if l.Static || l.From != "" || l.Lent != "" {
		return // asked for by number (again, if at all), or not this host's space
	}
	p.forget(now)
	if len(p.recent) >= maxReleased {
		var oldest netip.Addr
		for a, r := range p.recent {
			if !oldest.IsValid() || r.at.Before(p.recent[oldest].at) {
				oldest = a
			}
		}
		delete(p.recent, oldest)
	}
	if p.recent == nil {
		p.recent = map[netip.Addr]released{}
	}
	p.recent[ip] = released{name: l.Name, at: now}
}

// forget drops what was released longer than handBackFor ago.
func (p *pool) forget(now time.Time) {
	for a, r := range p.recent {
		if now.Sub(r.at) >= handBackFor {
			delete(p.recent, a)
		}
	}
}

// kept reports an address released lately, which other requests avoid.
func (p *pool) kept(a netip.Addr) bool {
	r, ok := p.recent[a]
	return ok && time.Since(r.at) < handBackFor
}

// handBack returns the address last released under name ("" matches
// releases without a name) that this host may lease again, if any.
func (a *Allocator) handBack(p *pool, name string) (netip.Addr, bool) {
	p.forget(time.Now())
	var best netip.Addr
	for ip, r := range p.recent {
		if r.name != name || best.IsValid() && !r.at.After(p.recent[best].at) {
			continue
		}
		b, _ := p.blockOfAddr(ip)
		if _, leased := p.leases[ip]; leased || !p.holds(b) || p.reserved(ip) {
			continue
		}
		best = ip
	}
	if !best.IsValid() {
		return best, false
	}
	b, _ := p.blockOfAddr(best)
	if a.checkTaken(p, b) {
		delete(p.recent, best)
		return netip.Addr{}, false
	}
	return best, true
}
