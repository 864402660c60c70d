package meshsim

import (
	"time"

	"github.com/weavego/weavego/mesh"
)

// pushPullRound is one tick of h's push/pull timer: a full exchange with
// one random peer it reaches. The period follows the current membership.
func (s *Sim) pushPullRound(h *host) {
	if !h.member {
		return
	}
	s.at(s.pushPullInterval(len(s.up)), func() { s.pushPullRound(h) })
	if ps := s.randomPeers(h, 1); len(ps) == 1 {
		s.exchange(h, ps[0], false, nil)
	}
}

// exchange runs a push/pull from a to b over a modelled stream: each
// message takes a latency plus its size at the stream's bandwidth, and
// carries memberlist's member list on its first leg each way. done, if
// set, runs at a when the exchange ends, with whether it completed.
func (s *Sim) exchange(a, b *host, join bool, done func(ok bool)) {
	s.exchange3(a, b, a.node.PushPull(join), join, false, done)
}

// exchange3 runs an exchange from a to b that starts with first: a
// push/pull, or an offer (a direct message: no member lists, and b
// answers it with Offered).
func (s *Sim) exchange3(a, b *host, first []byte, join, offer bool, done func(ok bool)) {
	s.bytes.exchanges++
	fail := func() {
		s.bytes.failed++
		if done != nil {
			done(false)
		}
	}
	leg := 0
	var send func(from, to *host, msg []byte, fromInitiator bool)
	send = func(from, to *host, msg []byte, fromInitiator bool) {
		size := int64(len(msg) + streamOverhead)
		if leg < 2 && !offer {
			size += int64(memberBytes * len(s.up))
			s.bytes.members += int64(memberBytes * len(s.up))
		}
		leg++
		from.sent += size
		s.bytes.pushPull += size
		d := s.latency() + time.Duration(float64(size)/s.cfg.Bandwidth*float64(time.Second))
		s.at(d, func() {
			if !s.reaches(from, to) || s.largest(msg) > maxPushStateBytes {
				fail()
				return
			}
			to.recv += size
			var next []byte
			var err error
			if o, ok := to.node.(offerer); ok && offer && fromInitiator && leg == 1 {
				next, err = o.Offered(msg)
				s.afterMessage(to)
			} else {
				next, err = s.handle(to, msg, fromInitiator, join)
			}
			if err != nil {
				panic("meshsim: a host cannot read another's push/pull: " + err.Error())
			}
			if next == nil {
				if done != nil {
					done(true)
				}
				return
			}
			send(to, from, next, !fromInitiator)
		})
	}
	send(a, b, first, true)
}

// offerer is a Node that offers its summary after a large repair (mesh's
// offer.go).
type offerer interface {
	Offer() []byte
	Summary() []byte
	Offered(msg []byte) ([]byte, error)
}

// largest is the largest message of the protocol a leg carries.
func (s *Sim) largest(leg []byte) int {
	if p, ok := s.cfg.Protocol.(interface{ LargestMessage([]byte) int }); ok {
		return p.LargestMessage(leg)
	}
	return len(leg)
}

// handle gives a push/pull message to its receiver: Answer at the host
// that did not start the exchange (the sender was the initiator), Settle
// at the one that did.
func (s *Sim) handle(to *host, msg []byte, fromInitiator, join bool) ([]byte, error) {
	var next []byte
	var err error
	if fromInitiator {
		next, err = to.node.Answer(msg, join)
	} else {
		next, err = to.node.Settle(msg, join)
	}
	if err == nil {
		s.afterMessage(to)
	}
	return next, err
}

// afterMessage follows a push/pull message h handled: the writes it now
// holds, what it passes on, and an offer it makes.
func (s *Sim) afterMessage(h *host) {
	s.track.checkAll(h)
	s.passOn(h)
	s.offer(h)
}

// offer starts the series of offers h's node asks for, as mesh's offer.go
// does: mesh.OfferRounds rounds, one per mesh.OfferInterval, each to
// mesh.OfferFanout members; at most one series a host per
// OfferRounds·OfferInterval.
func (s *Sim) offer(h *host) {
	o, ok := h.node.(offerer)
	if !ok {
		return
	}
	msg := o.Offer()
	if msg == nil || h.offered != 0 && s.now-h.offered < int64(mesh.OfferRounds*mesh.OfferInterval) {
		return
	}
	h.offered = s.now
	s.offerRound(h, msg)
	for i := 1; i < mesh.OfferRounds; i++ {
		s.at(time.Duration(i)*mesh.OfferInterval, func() { s.offerRound(h, o.Summary()) })
	}
}

// offerRound offers msg, h's summary, to mesh.OfferFanout random members h
// reaches.
func (s *Sim) offerRound(h *host, msg []byte) {
	if !h.member {
		return
	}
	for _, p := range s.randomPeers(h, mesh.OfferFanout) {
		s.bytes.offers++
		s.exchange3(h, p, msg, false, true, nil)
	}
}

// passOn queues for gossip at h what its node passed on after a push/pull
// message, each with the tracked write it carries, if any.
func (s *Sim) passOn(h *host) {
	p, ok := h.node.(interface{ PassedOn() []PassOn })
	if !ok {
		return
	}
	for _, r := range p.PassedOn() {
		s.bytes.passedOn++
		h.enqueue("e\x00"+r.Kind+"\x00"+r.Key, r.Msg, s.track.latest(r.Kind, r.Key))
	}
}
