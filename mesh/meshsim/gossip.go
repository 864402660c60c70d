package meshsim

import (
	"fmt"
	"slices"
	"time"
)

// host is one simulated Docker host.
type host struct {
	id     int
	name   string
	node   Node
	member bool
	// queue is the host's transmit-limited gossip queue.
	queue []*queued
	qseq  uint64
	// pruned is when the queue was last bounded (see prune).
	pruned int64
	// sent and recv count the bytes this host put on and took off the
	// wire, headers included.
	sent, recv int64
	// offered is when the host last offered its summary (0: never).
	offered int64
}

// queued is a broadcast waiting in a gossip queue. A newer broadcast of
// the same name replaces it; it leaves the queue after the retransmit
// limit. w, if set, is the tracked write it carries.
type queued struct {
	name      string
	msg       []byte
	w         *write
	transmits int
	id        uint64
}

// addHost adds a member host with an empty replica.
func (s *Sim) addHost() *host {
	h := &host{id: len(s.hosts), name: fmt.Sprintf("host-%05d", len(s.hosts)), member: true}
	h.node = s.cfg.Protocol.NewNode(h.name)
	s.hosts = append(s.hosts, h)
	if s.side != nil {
		s.side = append(s.side, 0)
	}
	s.up = append(s.up, h.id)
	return h
}

// startTimers starts h's gossip and push/pull timers, each at a random
// offset within its period, as memberlist staggers them.
func (s *Sim) startTimers(h *host) {
	gi := s.cfg.GossipInterval
	s.at(time.Duration(s.rnd.Int64N(int64(gi))), func() { s.gossipRound(h) })
	pp := s.pushPullInterval(len(s.up))
	s.at(time.Duration(s.rnd.Int64N(int64(pp))), func() { s.pushPullRound(h) })
}

// enqueue queues a broadcast at h, replacing one of the same name.
func (h *host) enqueue(name string, msg []byte, w *write) {
	h.queue = slices.DeleteFunc(h.queue, func(q *queued) bool { return q.name == name })
	h.qseq++
	h.queue = append(h.queue, &queued{name: name, msg: msg, w: w, id: h.qseq})
}

// take fills one packet from h's queue as memberlist does: fewest
// transmits first, newest first among equals, as many as fit in avail
// bytes; each taken broadcast counts a transmit and leaves the queue at
// limit.
func (h *host) take(avail, limit int) []*queued {
	if len(h.queue) == 0 {
		return nil
	}
	slices.SortFunc(h.queue, func(a, b *queued) int {
		if a.transmits != b.transmits {
			return a.transmits - b.transmits
		}
		return int(b.id) - int(a.id)
	})
	var out []*queued
	used := 0
	keep := h.queue[:0]
	for _, q := range h.queue {
		if used+msgOverhead+len(q.msg) > avail {
			keep = append(keep, q)
			continue
		}
		used += msgOverhead + len(q.msg)
		out = append(out, q)
		q.transmits++
		if q.transmits < limit {
			keep = append(keep, q)
		}
	}
	clear(h.queue[len(keep):])
	h.queue = keep
	return out
}

// gossipRound is one tick of h's gossip timer: a packet from its queue to
// each of up to GossipNodes random peers it reaches.
func (s *Sim) gossipRound(h *host) {
	if !h.member {
		return
	}
	s.at(s.cfg.GossipInterval, func() { s.gossipRound(h) })
	s.prune(h)
	s.bytes.maxQueue = max(s.bytes.maxQueue, len(h.queue))
	if len(h.queue) == 0 {
		return
	}
	limit := s.retransmitLimit(len(s.up))
	avail := udpBufferSize - (packetOverhead - 28)
	for _, p := range s.randomPeers(h, s.cfg.GossipNodes) {
		pkt := h.take(avail, limit)
		if len(pkt) == 0 {
			return
		}
		size := packetOverhead
		for _, q := range pkt {
			size += msgOverhead + len(q.msg)
		}
		h.sent += int64(size)
		s.bytes.gossip += int64(size)
		s.bytes.packets++
		if s.cfg.Loss > 0 && s.rnd.Float64() < s.cfg.Loss {
			s.bytes.lost++
			continue
		}
		s.at(s.latency(), func() { s.receive(h, p, pkt, size) })
	}
}

// receive delivers a gossip packet to p, if it still reaches the sender.
func (s *Sim) receive(from, p *host, pkt []*queued, size int) {
	if !s.reaches(from, p) {
		return
	}
	p.recv += int64(size)
	for _, q := range pkt {
		pass, err := p.node.Gossip(q.msg)
		if err != nil {
			panic("meshsim: a host cannot read another's broadcast: " + err.Error())
		}
		if pass {
			p.enqueue(q.name, q.msg, q.w)
		}
		if q.w != nil {
			s.track.check(q.w, p)
		}
	}
}

// Mesh bounds its gossip queue at its periodic reap (every tenth of the
// tombstone TTL, 60 s by default): past maxQueued broadcasts, the oldest
// are dropped and push/pull repairs what they carried.
const (
	maxQueued  = 4096
	pruneEvery = 60 * time.Second
)

// prune applies mesh's bound to h's queue when its reap is due.
func (s *Sim) prune(h *host) {
	if s.now-h.pruned < int64(pruneEvery) {
		return
	}
	h.pruned = s.now
	if len(h.queue) <= maxQueued {
		return
	}
	s.bytes.pruned += int64(len(h.queue) - maxQueued)
	slices.SortFunc(h.queue, func(a, b *queued) int { return int(b.id) - int(a.id) })
	clear(h.queue[maxQueued:])
	h.queue = h.queue[:maxQueued]
}

// randomPeers returns up to k distinct random members that h reaches,
// other than h.
func (s *Sim) randomPeers(h *host, k int) []*host {
	var out []*host
	for tries := 0; len(out) < k && tries < 4*k+8; tries++ {
		p := s.hosts[s.up[s.rnd.IntN(len(s.up))]]
		if p == h || !s.reaches(h, p) || slices.Contains(out, p) {
			continue
		}
		out = append(out, p)
	}
	return out
}
