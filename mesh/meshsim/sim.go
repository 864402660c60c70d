package meshsim

import (
	"container/heap"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/weavego/weavego/reconcile"
)

// Wire overheads the model adds to the protocol's own bytes. Facts of
// memberlist as weavego configures it (label "weavego", AES-GCM keyring),
// plus IPv4 and UDP or TCP headers.
const (
	// udpBufferSize is memberlist's gossip packet budget (UDPBufferSize).
	udpBufferSize = 1400
	// packetOverhead is added to every gossip packet on the wire: the
	// compound header (2), the label (2+7), encryption (version 1, nonce
	// 12, tag 16: 29) and IPv4+UDP (28).
	packetOverhead = 2 + 9 + 29 + 28
	// msgOverhead is added to each message in a gossip packet: its length
	// in the compound header (2) and the user-message type byte (1).
	msgOverhead = 3
	// streamOverhead is added to each push/pull message: the label (9),
	// encryption (29 and a 5-byte frame), memberlist's push/pull header
	// (about 30) and TCP/IP segments' headers, estimated at 60.
	streamOverhead = 9 + 29 + 5 + 30 + 60
	// memberBytes estimates one member's record in memberlist's push/pull
	// node list (msgpack of name, address, port, meta, incarnation, state
	// and protocol versions, with field names), which push/pull sends
	// before the map.
	memberBytes = 80
	// maxPushStateBytes is memberlist's limit on the state read in one
	// push/pull: a larger one is refused and the exchange fails.
	maxPushStateBytes = 20 << 20
)

// Config configures a simulation. Zero fields take the defaults of weavego
// on a LAN.
type Config struct {
	// Hosts is the number of hosts at the start.
	Hosts int
	// EndpointsPerHost is the containers (an endpoint and a name entry
	// each) every host runs at the start.
	EndpointsPerHost int
	// Seed seeds the one random source of the run.
	Seed uint64
	// Protocol is the replicated map's protocol; default FullState with
	// the plugin's validators of package reconcile.
	Protocol Protocol
	// GossipInterval, GossipNodes and RetransmitMult are memberlist's;
	// defaults 200 ms, 3 and 4.
	GossipInterval time.Duration
	GossipNodes    int
	RetransmitMult int
	// PushPullInterval is the push/pull period below 33 hosts, scaled up
	// above as memberlist scales it; default 10 s.
	PushPullInterval time.Duration
	// LatencyMin and LatencyMax bound the one-way latency of a message,
	// drawn uniformly; defaults 0.2 and 2 ms.
	LatencyMin, LatencyMax time.Duration
	// Loss is the probability that a gossip packet is lost.
	Loss float64
	// Bandwidth is a push/pull stream's throughput in bytes per second;
	// default 125e6 (1 Gbit/s).
	Bandwidth float64
}

func (c Config) withDefaults() Config {
	if c.Protocol == nil {
		c.Protocol = NewFullState(reconcile.Validators())
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.GossipInterval, 200*time.Millisecond)
	def(&c.PushPullInterval, 10*time.Second)
	def(&c.LatencyMin, 200*time.Microsecond)
	def(&c.LatencyMax, 2*time.Millisecond)
	if c.GossipNodes == 0 {
		c.GossipNodes = 3
	}
	if c.RetransmitMult == 0 {
		c.RetransmitMult = 4
	}
	if c.Bandwidth == 0 {
		c.Bandwidth = 125e6
	}
	return c
}

// Sim is one simulated cluster. It is not safe for concurrent use: all of
// it runs on the caller's goroutine, in simulated time.
type Sim struct {
	cfg   Config
	rnd   *rand.Rand
	now   int64
	seq   uint64
	queue events

	hosts []*host
	up    []int // indexes of the hosts that are members
	// side is each host's half during a partition; nil when whole.
	side []int8

	work  *workload
	track *tracker
	bytes counters
}

// counters are bytes sent, by what carried them, over all hosts.
type counters struct {
	gossip, pushPull, members int64
	packets, lost             int64
	exchanges, failed         int64
	offers                    int64 // summaries offered after a large repair
	passedOn                  int64 // records queued for gossip after a small repair
	pruned                    int64 // broadcasts dropped by the queue bound
	maxQueue                  int   // the longest gossip queue seen
}

// New returns a cluster of cfg.Hosts hosts, each running
// cfg.EndpointsPerHost containers, every host already holding the whole
// map, and every host's gossip and push/pull timers started.
func New(cfg Config) *Sim {
	cfg = cfg.withDefaults()
	s := &Sim{cfg: cfg, rnd: rand.New(rand.NewPCG(cfg.Seed, 0x6d657368))}
	s.work = newWorkload(s)
	s.track = newTracker(s)
	for range cfg.Hosts {
		s.addHost()
	}
	s.populate()
	for _, h := range s.hosts {
		s.startTimers(h)
	}
	return s
}

// Now is the simulated time since the start.
func (s *Sim) Now() time.Duration { return time.Duration(s.now) }

// at schedules do after d.
func (s *Sim) at(d time.Duration, do func()) {
	s.seq++
	heap.Push(&s.queue, event{at: s.now + int64(d), seq: s.seq, do: do})
}

// RunFor runs the simulation for d of simulated time.
func (s *Sim) RunFor(d time.Duration) {
	end := s.now + int64(d)
	for len(s.queue) > 0 && s.queue[0].at <= end {
		e := heap.Pop(&s.queue).(event)
		s.now = e.at
		e.do()
	}
	s.now = end
}

// runUntil runs until done reports true, checked after every event, or
// until limit has passed; it reports whether done did.
func (s *Sim) runUntil(limit time.Duration, done func() bool) bool {
	end := s.now + int64(limit)
	for !done() {
		if len(s.queue) == 0 || s.queue[0].at > end {
			s.now = end
			return false
		}
		e := heap.Pop(&s.queue).(event)
		s.now = e.at
		e.do()
	}
	return true
}

// latency draws a one-way latency.
func (s *Sim) latency() time.Duration {
	lo, hi := s.cfg.LatencyMin, s.cfg.LatencyMax
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(s.rnd.Int64N(int64(hi-lo)))
}

// reaches reports whether a message from a gets to b: both members, on
// the same side of a partition.
func (s *Sim) reaches(a, b *host) bool {
	return a.member && b.member && (s.side == nil || s.side[a.id] == s.side[b.id])
}

// pushPullInterval is memberlist's push/pull period for n members: the
// configured one up to 32, then one more period per doubling beyond 32.
func (s *Sim) pushPullInterval(n int) time.Duration {
	if n <= 32 {
		return s.cfg.PushPullInterval
	}
	mult := math.Ceil(math.Log2(float64(n))-math.Log2(32)) + 1
	return time.Duration(mult) * s.cfg.PushPullInterval
}

// retransmitLimit is how often memberlist sends a queued broadcast for n
// members: RetransmitMult × ceil(log10(n+1)).
func (s *Sim) retransmitLimit(n int) int {
	return s.cfg.RetransmitMult * int(math.Ceil(math.Log10(float64(n+1))))
}

// Partition cuts the members in two halves (by index), as a network split
// would. The model's membership follows at once: each half sees the other
// as gone (memberlist's detection time is not modelled).
func (s *Sim) Partition() {
	s.side = make([]int8, len(s.hosts))
	for i := len(s.hosts) / 2; i < len(s.hosts); i++ {
		s.side[i] = 1
	}
}

// Heal removes the cut; the model's membership is whole again at once.
func (s *Sim) Heal() { s.side = nil }

// Converged reports whether every member holds the same map.
func (s *Sim) Converged() (bool, error) {
	var first []byte
	for _, i := range s.up {
		st := s.hosts[i].node.Map()
		if first == nil {
			first = st
			continue
		}
		if string(st) != string(first) {
			return false, fmt.Errorf("host %s holds another map than host %s", s.hosts[i].name, s.hosts[s.up[0]].name)
		}
	}
	return true, nil
}

// Rejected is the number of records admission refused on all hosts: a
// model whose records break weavego's rules shows here.
func (s *Sim) Rejected() uint64 {
	var n uint64
	for _, h := range s.hosts {
		n += h.node.Rejected()
	}
	return n
}
