package dnsd

import (
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// door is one listener's view of the handler: it serves the requests that
// arrive on one address in one network namespace, and knows which network
// they are from. Each weavego network has a namespace of its own, so a
// request that arrives in it is from a client of that network whatever its
// source address says: a source in another network's subnet is a stranger
// there (spoofed, since no route leads from one network's namespace to
// another's), and gets neither that network's names nor its budgets.
type door struct {
	h  *Handler
	at where
	// seen caches which network at names, for one snapshot of the served
	// networks; it is replaced (never changed) when the snapshot is.
	seen atomic.Pointer[doorNet]
}

var _ dns.Handler = (*door)(nil)

// doorNet is the network of a door in one snapshot; net is nil when the
// door's namespace holds several networks and the door is the gateway of
// none (the service address in a shared namespace): its requests are then
// from whichever of those networks holds the source address.
type doorNet struct {
	set *servedSet
	net *servedNet
}

func newDoor(h *Handler, at where) *door { return &door{h: h, at: at} }

// accept is the MsgAcceptFunc of the door's TCP server: before the library
// unpacks a request, it takes a token from the gate of the door's network
// and from the host's, and drops the request unanswered when either is
// empty, so that a flood costs a bounded share of the CPU whatever it asks
// (names, NXDOMAINs, malformed requests alike). A network over its rate
// takes nothing from the host's. UDP requests pass the same gates as they
// are read (gateReader), before the library starts a goroutine for them.
func (d *door) accept(dh dns.Header) dns.MsgAcceptAction {
	if dh.Bits&qrBit == 0 && !d.admit() {
		d.h.stats.throttled.Add(1)
		return dns.MsgIgnore
	}
	return d.h.accept(dh)
}

// admit takes one token from the door's network's gate, if it names one,
// and from the host's.
func (d *door) admit() bool {
	now := int64(time.Since(d.h.epoch))
	if _, n := d.network(); n != nil && !n.share.answers.allow(now) {
		return false
	}
	return d.h.answers.allow(now)
}

// ServeDNS implements dns.Handler for requests that arrive at the door.
func (d *door) ServeDNS(w dns.ResponseWriter, r *dns.Msg) { d.h.serve(w, r, d) }

// network returns the current snapshot and the door's network in it.
func (d *door) network() (*servedSet, *servedNet) {
	set := d.h.served.Load()
	if dn := d.seen.Load(); dn != nil && dn.set == set {
		return set, dn.net
	}
	dn := &doorNet{set: set}
	if set != nil {
		dn.net = set.at(d.at)
	}
	d.seen.Store(dn)
	return set, dn.net
}

// at returns the network whose requests arrive at w: the only network of
// w's namespace, or else the one whose gateway w is; nil if neither.
func (s *servedSet) at(w where) *servedNet {
	var only, gateway *servedNet
	count := 0
	for i := range s.nets {
		n := &s.nets[i]
		if n.NetNS != w.netns {
			continue
		}
		count++
		only = n
		if n.Gateway.Unmap() == w.addr || n.Gateway6.IsValid() && n.Gateway6 == w.addr {
			gateway = n
		}
	}
	if count == 1 {
		return only
	}
	return gateway
}
