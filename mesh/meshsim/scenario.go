package meshsim

import (
	"fmt"
	"slices"
	"time"

	"github.com/weavego/weavego/reconcile"
)

// Report is what Measure found, in simulated time.
type Report struct {
	Hosts, EndpointsPerHost int
	// ByDifference is set when the protocol was format 3's sync by
	// difference (push/pull carries summaries), clear for full maps.
	ByDifference bool
	// Entries is the map's size at the start, tombstones included, and
	// StateBytes the encoded full map one push/pull sends.
	Entries, StateBytes int
	// PushPull is memberlist's push/pull period at this size, and
	// RetransmitLimit its transmits per broadcast.
	PushPull        time.Duration
	RetransmitLimit int

	// SpreadP50 and SpreadP99: a new entry on every host, over Samples
	// new entries written one container a second on an idle cluster.
	SpreadP50, SpreadP99 time.Duration
	Samples              int
	// ChurnP50 and ChurnP99: the same, over the entries of containers
	// created and removed during the churn phase.
	ChurnP50, ChurnP99 time.Duration

	// IdleBytes and ChurnBytes are bytes sent per host per second, idle
	// and with churn; IdleMembersBytes is the share of memberlist's
	// member lists in push/pull (estimated), the rest being the map.
	IdleBytes, IdleMembersBytes, ChurnBytes float64

	// Join is the time a new host took to hold the whole map, and
	// JoinBytes what it received meanwhile; JoinOK is false if it did not
	// within the limit.
	Join      time.Duration
	JoinBytes int64
	JoinOK    bool

	// Heal is the time from the end of a 60 s partition in two halves
	// (with churn) until every write made before the end is on every
	// host; HealOK is false if not within the limit.
	Heal   time.Duration
	HealOK bool

	// FailedExchanges counts push/pulls refused for a state above
	// memberlist's 20 MiB, or cut by the partition.
	FailedExchanges int64
	// MaxQueue is the longest gossip queue any host had, and Pruned the
	// broadcasts mesh's queue bound dropped: a queue that grows means
	// writes arrive faster than gossip sends them.
	MaxQueue int
	Pruned   int64
	// Offers counts the summaries hosts offered after a large repair
	// (sync by difference only).
	Offers int64
	// PassedOn counts the records hosts passed on by gossip after a small
	// repair (sync by difference only).
	PassedOn int64
	// Rejected counts records admission refused on any host (0 unless the
	// workload breaks the plugin's rules).
	Rejected uint64
	// Converged is whether all hosts held the same map at the end.
	Converged bool
}

// Phases is how long each phase of Measure lasts, in simulated time.
type Phases struct {
	// Idle is the window over which idle bytes are counted; default two
	// push/pull periods.
	Idle time.Duration
	// Spread is how many single containers are created, one a second, on
	// the idle cluster; default 50.
	Spread int
	// Churn is the window of churn at ChurnRate containers per second
	// cluster-wide; defaults 60 s and 10.
	Churn     time.Duration
	ChurnRate float64
	// Partition is how long the halves stay apart; default 60 s.
	// PartitionRate is the churn (containers per second cluster-wide)
	// during the partition and until the heal is complete; default
	// ChurnRate.
	Partition     time.Duration
	PartitionRate float64
	// Limit bounds each wait (join, heal, final convergence); default ten
	// push/pull periods.
	Limit time.Duration
}

func (p Phases) withDefaults(pp time.Duration) Phases {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&p.Idle, 2*pp)
	def(&p.Churn, 60*time.Second)
	def(&p.Partition, 60*time.Second)
	def(&p.Limit, 10*pp)
	if p.Spread == 0 {
		p.Spread = 50
	}
	if p.ChurnRate == 0 {
		p.ChurnRate = 10
	}
	if p.PartitionRate == 0 {
		p.PartitionRate = p.ChurnRate
	}
	return p
}

// Measure builds a cluster of cfg and runs it through the phases: idle,
// new entries one at a time, churn, a joining host, a partition in two
// halves with churn and its heal, then quiet until every host holds the
// same map.
func Measure(cfg Config, ph Phases) Report {
	s := New(cfg)
	ph = ph.withDefaults(s.pushPullInterval(len(s.up)))
	_, byDiff := cfg.Protocol.(SyncByDifference)
	r := Report{Hosts: len(s.hosts), EndpointsPerHost: s.cfg.EndpointsPerHost, ByDifference: byDiff,
		PushPull: s.pushPullInterval(len(s.up)), RetransmitLimit: s.retransmitLimit(len(s.up))}
	st := s.hosts[0].node.State()
	r.StateBytes = len(st)
	r.Entries = len(s.work.vtep) + 2*s.work.next

	s.RunFor(10 * time.Second) // timers settle
	before, members := s.sentTotal(), s.bytes.members
	s.RunFor(ph.Idle)
	r.IdleBytes = s.perHostSecond(s.sentTotal()-before, ph.Idle)
	r.IdleMembersBytes = s.perHostSecond(s.bytes.members-members, ph.Idle)

	since := s.now
	for range ph.Spread {
		s.CreateContainer()
		s.RunFor(time.Second)
	}
	s.runUntil(ph.Limit, func() bool { return !s.track.pendingBefore(s.now + 1) })
	sp := s.track.spread(since)
	r.Samples = len(sp)
	r.SpreadP50, r.SpreadP99 = percentile(sp, 50), percentile(sp, 99)

	since, before = s.now, s.sentTotal()
	s.Churn(ph.ChurnRate)
	s.RunFor(ph.Churn)
	r.ChurnBytes = s.perHostSecond(s.sentTotal()-before, ph.Churn)
	s.Churn(0)
	s.runUntil(ph.Limit, func() bool { return !s.track.pendingBefore(s.now + 1) })
	sp = s.track.spread(since)
	r.ChurnP50, r.ChurnP99 = percentile(sp, 50), percentile(sp, 99)

	r.Join, r.JoinBytes, r.JoinOK = s.measureJoin(ph.Limit)

	s.Churn(ph.PartitionRate)
	s.Partition()
	s.RunFor(ph.Partition)
	s.Heal()
	healed := s.now
	r.HealOK = s.runUntil(ph.Limit, func() bool { return !s.track.pendingBefore(healed) })
	r.Heal = time.Duration(s.now - healed)
	s.Churn(0)
	s.runUntil(ph.Limit, func() bool { return len(s.track.pending) == 0 })
	s.RunFor(2 * s.pushPullInterval(len(s.up)))
	r.Converged, _ = s.Converged()
	r.FailedExchanges = s.bytes.failed
	r.MaxQueue, r.Pruned, r.Offers, r.PassedOn = s.bytes.maxQueue, s.bytes.pruned, s.bytes.offers, s.bytes.passedOn
	r.Rejected = s.Rejected()
	return r
}

// measureJoin adds a host with an empty map that joins by a push/pull
// with a random member, as memberlist's join does, and runs until it
// holds every entry the others held when it joined (their latest
// versions). It returns the time taken and the bytes it received.
func (s *Sim) measureJoin(limit time.Duration) (time.Duration, int64, bool) {
	ref := s.hosts[s.up[0]].node
	h := s.addHost()
	start := s.now
	s.exchange(h, s.hosts[s.up[s.rnd.IntN(len(s.up)-1)]], true, nil)
	s.startTimers(h)
	s.write(h, reconcile.KindHostNet, fmt.Sprintf("%d/%s", simVNI, h.name), s.work.joinNetwork(h))
	want := s.work.keys()
	ok := s.runUntil(limit, func() bool {
		if h.recv == 0 {
			return false
		}
		for _, k := range want {
			v, _ := ref.Version(k[0], k[1])
			if got, have := h.node.Version(k[0], k[1]); !have || got < v {
				return false
			}
		}
		return true
	})
	return time.Duration(s.now - start), h.recv, ok
}

// keys lists the (kind, key) of every entry the workload wrote and still
// runs.
func (w *workload) keys() [][2]string {
	var out [][2]string
	ids := make([]int, 0, len(w.ctrs))
	for id := range w.ctrs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		for _, c := range w.ctrs[id] {
			out = append(out, [2]string{"ep", c.epKey}, [2]string{"name", c.nameKey})
		}
	}
	return out
}

func (s *Sim) sentTotal() int64 { return s.bytes.gossip + s.bytes.pushPull }

func (s *Sim) perHostSecond(b int64, d time.Duration) float64 {
	return float64(b) / float64(len(s.up)) / d.Seconds()
}

// percentile returns the p-th percentile (nearest rank) of ds.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	i := (p*len(ds) + 99) / 100
	return ds[max(i, 1)-1]
}

// String renders r as a few lines.
func (r Report) String() string {
	return fmt.Sprintf("hosts %d × %d endpoints: %d entries, state %d B, push/pull every %s, %d transmits\n"+
		"new entry on all hosts: p50 %s, p99 %s (%d samples); under churn p50 %s, p99 %s\n"+
		"bytes sent per host per second: idle %.0f (member lists %.0f), churn %.0f\n"+
		"join: %s (ok %v), %d B received; heal after partition: %s (ok %v); failed exchanges %d; rejected %d; converged %v\n"+
		"longest gossip queue %d, broadcasts pruned %d, summaries offered %d, records passed on %d",
		r.Hosts, r.EndpointsPerHost, r.Entries, r.StateBytes, r.PushPull, r.RetransmitLimit,
		r.SpreadP50, r.SpreadP99, r.Samples, r.ChurnP50, r.ChurnP99,
		r.IdleBytes, r.IdleMembersBytes, r.ChurnBytes,
		r.Join, r.JoinOK, r.JoinBytes, r.Heal, r.HealOK, r.FailedExchanges, r.Rejected, r.Converged,
		r.MaxQueue, r.Pruned, r.Offers, r.PassedOn)
}
