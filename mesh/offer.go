package mesh

import (
	"math/rand/v2"
	"time"
)

// Offers. An exchange of sync by difference that repaired many records
// (offerAfter or more: typically writes one half of a partition made while
// cut off) is news that the rest of the cluster would otherwise get only
// push/pull period by push/pull period (a minute at 1,000 hosts): the
// gossip of a small repair (maxRelay) leaves a few hosts out, as gossip
// does, and a large one is not gossiped at all. So the peer that took it
// offers its summary to OfferFanout other live members chosen at random,
// once now and again at each of the next OfferRounds-1 OfferIntervals (the
// summary of that moment). Each member offered one asks for what it lacks
// exactly as after a push/pull, and starts offers of its own if that
// repaired as much: the repair spreads from exchange to exchange as a
// rumour does, and the repeated rounds leave few hosts it never reaches
// (about e^-(OfferFanout·OfferRounds) of them), which their next push/pull
// repairs. Offers stop by themselves once exchanges find little to repair,
// and a peer starts at most one series per OfferRounds·OfferInterval. The
// simulator (mesh/meshsim) models offers with these constants.
const (
	// offerAfter is the least records an exchange must repair to start
	// offers: a handful is what gossip had in flight anyway.
	offerAfter    = 32
	OfferInterval = 500 * time.Millisecond
	OfferFanout   = 3
	OfferRounds   = 4
)

// offer starts a series of offers of this peer's summary to live members
// other than except, if every member reads summaries and no series was
// started in the last OfferRounds·OfferInterval.
func (m *Mesh) offer(except string, now time.Time) {
	last := m.lastOffer.Load()
	if now.UnixNano()-last < int64(OfferRounds*OfferInterval) ||
		!m.lastOffer.CompareAndSwap(last, now.UnixNano()) || !m.protos.all(2) {
		return
	}
	m.offerRound(except)
	for i := 1; i < OfferRounds; i++ {
		time.AfterFunc(time.Duration(i)*OfferInterval, func() { m.offerRound(except) })
	}
}

// offerRound sends this peer's summary to OfferFanout random live members
// other than except, unless the mesh is closed.
func (m *Mesh) offerRound(except string) {
	if m.outbox.closed() {
		return
	}
	var to []string
	for _, n := range m.otherMembers() {
		if n.Name != except {
			to = append(to, n.Name)
		}
	}
	rand.Shuffle(len(to), func(i, j int) { to[i], to[j] = to[j], to[i] })
	sum := m.store.summary()
	sum.omitted = true
	msg := encodeState(nil, sum)
	for _, name := range to[:min(OfferFanout, len(to))] {
		m.stats.syncOffers.Add(1)
		m.outbox.add(outJob{to: name, next: onceMsgs([][]byte{msg})})
	}
}

// offered plans the request for what an offered summary shows this peer
// lacks, as after a push/pull, and queues it to the offerer.
func (m *Mesh) offered(sum *summary) {
	if req := m.sync.plan(sum, time.Now()); req != nil {
		m.stats.syncRequests.Add(1)
		m.outbox.add(outJob{to: sum.sender, next: onceMsgs([][]byte{req})})
	}
}
