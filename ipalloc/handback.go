package ipalloc

import (
	"maps"
	"net/netip"
	"time"
)

// Handing addresses back. Docker releases a container's address when the
// container stops and asks for one with no preference when it starts it
// again: after dockerd crashed, a container with a restart policy is
// stopped, its address released, and the container started again; a
// graceful stop of dockerd (systemctl restart docker, an upgrade, a reboot)
// releases every container's address, then stops this plugin, then starts
// both again. So that such a container comes back at its address, a host
// remembers the addresses it released in the last handBackFor, in its state
// file as well as in memory (a restarted plugin remembers what the plugin
// before it released), and:
//   - a request that names its endpoint (Docker 29 and later pass the
//     container's name) gets the address last released under that name;
//   - a request with no name (Docker 20.10 names nothing, and lets the
//     plugin ask nothing either: its API answers only once the containers it
//     restarts have started) gets the address released last without a name:
//     the container's own when it is the only one of the network starting
//     again on this host at that moment (with several, each gets one of
//     theirs, in the order they ask);
//   - any other request prefers, in the block it leases from, addresses not
//     released lately, so that a new container does not take a returning
//     one's address while others are free.
//
// This is a preference, never a reservation: only a free address of a
// block this host holds, and that was not taken over, is handed back,
// through the same lease as any other, so no address is ever leased twice.
// A pool whose space runs short uses remembered addresses like any other.

// handBackFor is how long a released address is remembered for its
// endpoint. dockerd restarts containers within seconds of releasing them
// when only it restarts; a reboot of the host between the release and the
// request takes minutes (firmware, boot, dockerd's start), which this
// covers with room to spare. Meanwhile, besides a pool short of space,
// only requests without a name (Docker 20.10) on this host take them.
const handBackFor = 15 * time.Minute

// maxReleased bounds the addresses remembered per pool; the oldest go first.
const maxReleased = 256

// released is an address this host released lately, and whose it was. It
// is saved as it is (JSON, the stamp as wall time).
type released struct {
	Name string    `json:",omitempty"` // the endpoint's name, "" if Docker gave none
	At   time.Time // when it was released
}

// expired reports whether r is too old to hand back at now. A release
// restored from the state file carries wall time only (the monotonic clock
// does not survive a restart), and the wall clock may have been set back
// since: a stamp in the future says nothing of how long ago the release
// was, so it counts as expired, as an old one does.
func (r released) expired(now time.Time) bool {
	age := now.Sub(r.At)
	return age < 0 || age >= handBackFor
}

// rememberable reports whether a released lease is remembered: not one
// asked for by number (it will be again, if at all), nor one of another
// host's space.
func rememberable(l lease) bool { return !l.Static && l.From == "" && l.Lent == "" }

// remembering returns what p.recent becomes once ip, leased as l, is
// released at now: a copy, which the caller saves before p.recent takes it.
// It drops what expired and, beyond maxReleased, the oldest.
func (p *pool) remembering(ip netip.Addr, l lease, now time.Time) map[netip.Addr]released {
	out := make(map[netip.Addr]released, len(p.recent)+1)
	for a, r := range p.recent {
		if !r.expired(now) && a != ip {
			out[a] = r
		}
	}
	if len(out) >= maxReleased {
		var oldest netip.Addr
		for a, r := range out {
			if !oldest.IsValid() || r.At.Before(out[oldest].At) {
				oldest = a
			}
		}
		delete(out, oldest)
	}
	out[ip] = released{Name: l.Name, At: now}
	return out
}

// recentWithout returns a copy of p.recent without ip.
func (p *pool) recentWithout(ip netip.Addr) map[netip.Addr]released {
	out := maps.Clone(p.recent)
	delete(out, ip)
	return out
}

// restoreReleased keeps, of the releases saved for p, those that may still
// be handed back at now: not expired, inside the range, neither reserved
// nor leased again. p's leases are restored first.
func (p *pool) restoreReleased(saved map[netip.Addr]released, now time.Time) {
	for a, r := range saved {
		_, inside := p.blockOfAddr(a)
		_, leased := p.leases[a]
		if r.expired(now) || !inside || leased || p.reserved(a) {
			continue
		}
		if p.recent == nil {
			p.recent = map[netip.Addr]released{}
		}
		p.recent[a] = r
	}
}

// forget drops what was released longer than handBackFor ago (from memory:
// the state file follows at the next release).
func (p *pool) forget(now time.Time) {
	for a, r := range p.recent {
		if r.expired(now) {
			delete(p.recent, a)
		}
	}
}

// kept reports an address released lately, which other requests avoid.
func (p *pool) kept(a netip.Addr) bool {
	r, ok := p.recent[a]
	return ok && !r.expired(time.Now())
}

// handBack returns the address last released under name ("" matches
// releases without a name) that this host may lease again, if any.
func (a *Allocator) handBack(p *pool, name string) (netip.Addr, bool) {
	p.forget(time.Now())
	var best netip.Addr
	for ip, r := range p.recent {
		if r.Name != name || best.IsValid() && !r.At.After(p.recent[best].At) {
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
