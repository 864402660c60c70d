package dnsd

import (
	"net/netip"
	"sync/atomic"
)

// What one network may hold of the forwards in flight. The host's pool of
// maxInflight forwards is shared, but a network takes at most a quarter of
// it, and every network has a few forwards of its own outside the pool: a
// container that fills its network's share with names that never answer
// (cycling source addresses, so that no client budget stops it) leaves the
// other networks their reserve and the rest of the pool.
const (
	// poolShares: a network takes at most 1/poolShares of the pool.
	poolShares = 4
	// netReserve forwards a network may always have in flight, pool or not.
	netReserve = 16
)

// share is the state one served network keeps across SetNetworks calls:
// what it has in flight and its answer rate. Its fields are atomic; it
// takes no lock.
type share struct {
	inflight atomic.Int32 // forwards of the network in flight, reserve and pool
	answers  *gate        // requests of the network answered
}

// servedNet is a served network with its share.
type servedNet struct {
	Served
	share *share
}

// servedSet is one snapshot of the served networks, replaced whole.
type servedSet struct {
	nets []servedNet
}

// newServedSet builds the snapshot for nets, keeping the share of each
// subnet that prev already served, so that a SetNetworks call during a
// flood does not hand the flooder a fresh share. A new share answers rate
// requests a second.
func newServedSet(nets []Served, prev *servedSet, rate float64) *servedSet {
	old := map[string]*share{}
	if prev != nil {
		for _, n := range prev.nets {
			old[n.key().String()+" "+n.NetNS] = n.share
		}
	}
	s := &servedSet{nets: make([]servedNet, 0, len(nets))}
	for _, n := range nets {
		n.Subnet, n.Subnet6 = masked(n.Subnet), masked(n.Subnet6)
		if !n.Subnet.IsValid() && !n.Subnet6.IsValid() {
			continue
		}
		sn := servedNet{Served: n}
		if sn.share = old[sn.key().String()+" "+n.NetNS]; sn.share == nil {
			sn.share = &share{answers: gateFor(rate)}
		}
		s.nets = append(s.nets, sn)
	}
	return s
}

// masked is p without host bits; the zero Prefix stays zero.
func masked(p netip.Prefix) netip.Prefix {
	if !p.IsValid() {
		return p
	}
	return p.Masked()
}

// key identifies n across snapshots and is the key of its forwarding
// budget: its IPv4 subnet's address, or its IPv6 subnet's when it has no
// IPv4.
func (n *servedNet) key() netip.Addr {
	if n.Subnet.IsValid() {
		return n.Subnet.Addr()
	}
	return n.Subnet6.Addr()
}

// acquire takes a forward slot for the network of s from its reserve or,
// within its share, from pool; ok is false when neither has one. pooled
// says whether release must return a slot to pool.
func acquire(s *share, pool chan struct{}) (pooled, ok bool) {
	n := s.inflight.Add(1)
	if n <= netReserve {
		return false, true
	}
	if int(n) <= netReserve+max(cap(pool)/poolShares, 1) {
		select {
		case pool <- struct{}{}:
			return true, true
		default:
		}
	}
	s.inflight.Add(-1)
	return false, false
}

// release gives back what acquire took.
func release(s *share, pool chan struct{}, pooled bool) {
	if pooled {
		<-pool
	}
	s.inflight.Add(-1)
}
