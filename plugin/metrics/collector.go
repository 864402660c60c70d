package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weavego/weavego/ipalloc"
	"github.com/weavego/weavego/mesh"
)

// collector reads the sources' own figures at scrape time.
type collector struct {
	src   Sources
	descs descs
	wg    wgDescs
}

func newCollector(src Sources) *collector {
	return &collector{src: src, descs: newDescs(), wg: newWGDescs()}
}

var _ prometheus.Collector = (*collector)(nil)

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range append(c.descs.all(), c.wg.all()...) {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	d := &c.descs
	ch <- prometheus.MustNewConstMetric(d.build, prometheus.GaugeValue, 1, c.src.Version)
	if c.src.Mesh != nil {
		c.collectMesh(ch)
	}
	if c.src.IPAM != nil {
		c.collectIPAM(ch, c.src.IPAM.Status())
	}
	if c.src.DNS != nil {
		st := c.src.DNS.Stats()
		counter(ch, d.dnsForwarded, st.Forwarded)
		counter(ch, d.dnsCached, st.Cached)
		counter(ch, d.dnsUpstreamErr, st.UpstreamErrors)
		counter(ch, d.dnsStrangers, st.Strangers)
		counter(ch, d.dnsOverBudget, st.OverBudget)
		counter(ch, d.dnsThrottled, st.Throttled)
		counter(ch, d.dnsConnsRefused, st.ConnsRefused)
	}
	if c.src.Datapath != nil {
		c.collectDatapath(ch)
	}
	if c.src.WireGuard != nil {
		c.collectWireGuard(ch, time.Now())
	}
}

func (c *collector) collectMesh(ch chan<- prometheus.Metric) {
	d := &c.descs
	byState := map[string]int{mesh.StateAlive: 0, mesh.StateSuspect: 0, mesh.StateDead: 0, mesh.StateLeft: 0}
	for _, p := range c.src.Mesh.Peers() {
		byState[p.State]++
	}
	for state, n := range byState {
		ch <- prometheus.MustNewConstMetric(d.peers, prometheus.GaugeValue, float64(n), state)
	}
	st := c.src.Mesh.Stats()
	counter(ch, d.gossipQueued, st.BroadcastsQueued)
	counter(ch, d.gossipSent, st.BroadcastsSent)
	counter(ch, d.gossipBytes, st.BytesReceived)
	counter(ch, d.gossipDecodeErr, st.DecodeErrors)
	counter(ch, d.gossipPruned, st.BroadcastsPruned+st.DirectDropped)
	ch <- prometheus.MustNewConstMetric(d.gossipRefused, prometheus.CounterValue, float64(st.StreamsRefused), "stream")
	ch <- prometheus.MustNewConstMetric(d.gossipRefused, prometheus.CounterValue, float64(st.PacketsDropped), "datagram")
	ch <- prometheus.MustNewConstMetric(d.merges, prometheus.CounterValue, float64(st.MergesApplied), "applied")
	ch <- prometheus.MustNewConstMetric(d.merges, prometheus.CounterValue, float64(st.MergesIgnored), "ignored")
	ch <- prometheus.MustNewConstMetric(d.merges, prometheus.CounterValue, float64(st.Stale), "stale")
	for event, n := range map[string]uint64{"request": st.SyncRequests, "chunk": st.SyncChunksSent,
		"record": st.SyncRecordsSent, "dropped": st.SyncDropped, "unasked": st.SyncUnasked, "relayed": st.SyncRelayed,
		"offer": st.SyncOffers} {
		ch <- prometheus.MustNewConstMetric(d.syncEvents, prometheus.CounterValue, float64(n), event)
	}
	ch <- prometheus.MustNewConstMetric(d.tombstones, prometheus.GaugeValue, float64(st.Tombstones))
	for kind, n := range c.src.Mesh.KindCounts() {
		ch <- prometheus.MustNewConstMetric(d.entries, prometheus.GaugeValue, float64(n), kind)
	}
	rejected := map[string]uint64{}
	for _, r := range c.src.Mesh.Rejected() {
		rejected[r.Kind] += r.Count
	}
	for kind, n := range rejected {
		ch <- prometheus.MustNewConstMetric(d.rejected, prometheus.CounterValue, float64(n), kind)
	}
}

func (c *collector) collectIPAM(ch chan<- prometheus.Metric, st ipalloc.Status) {
	d := &c.descs
	for _, p := range st.Pools {
		var size, used, free uint64
		for _, h := range p.Hosts {
			size += h.Owned
			used += h.Used
			free += h.Free
			if h.Host == st.Host {
				ch <- prometheus.MustNewConstMetric(d.poolLocal, prometheus.GaugeValue, float64(h.Owned), p.ID, "owned")
				ch <- prometheus.MustNewConstMetric(d.poolLocal, prometheus.GaugeValue, float64(h.Used), p.ID, "used")
				ch <- prometheus.MustNewConstMetric(d.poolLocal, prometheus.GaugeValue, float64(h.Free), p.ID, "free")
				ch <- prometheus.MustNewConstMetric(d.poolLocal, prometheus.GaugeValue, float64(h.Reserve), p.ID, "reserve")
			}
		}
		ch <- prometheus.MustNewConstMetric(d.poolSize, prometheus.GaugeValue, float64(size), p.ID)
		ch <- prometheus.MustNewConstMetric(d.poolUsed, prometheus.GaugeValue, float64(used), p.ID)
		ch <- prometheus.MustNewConstMetric(d.poolFree, prometheus.GaugeValue, float64(free), p.ID)
	}
	ch <- prometheus.MustNewConstMetric(d.ipamProblems, prometheus.GaugeValue, float64(len(st.Problems)))
}

func (c *collector) collectDatapath(ch chan<- prometheus.Metric) {
	d := &c.descs
	fdb, neigh := c.src.Datapath.RemoteCounts()
	ch <- prometheus.MustNewConstMetric(d.fdb, prometheus.GaugeValue, float64(fdb))
	ch <- prometheus.MustNewConstMetric(d.neigh, prometheus.GaugeValue, float64(neigh))
	counters, err := c.src.Datapath.FirewallCounters()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(d.firewall, err)
		return
	}
	for rule, n := range counters {
		ch <- prometheus.MustNewConstMetric(d.firewall, prometheus.CounterValue, float64(n), rule)
	}
}

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v uint64) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
}
