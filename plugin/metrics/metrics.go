package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weavego/weavego/dnsd"
	"github.com/weavego/weavego/ipalloc"
	"github.com/weavego/weavego/mesh"
)

// Mesh is what the collector reads of the gossip mesh.
type Mesh interface {
	Stats() mesh.Stats
	Peers() []mesh.Peer
	KindCounts() map[string]int
	Rejected() []mesh.Rejection
}

// IPAM is what the collector reads of the address allocator.
type IPAM interface {
	Status() ipalloc.Status
}

// DNS is what the collector reads of dnsd.
type DNS interface {
	Stats() dnsd.Stats
}

// Datapath is what the collector reads of the kernel datapath.
type Datapath interface {
	RemoteCounts() (fdb, neigh int)
	FirewallCounters() (map[string]uint64, error)
}

// Sources are the parts read at scrape time. A nil source is left out.
type Sources struct {
	Version  string
	Mesh     Mesh
	IPAM     IPAM
	DNS      DNS
	Datapath Datapath
	// WireGuard lists the encrypted paths; nil on a host without a
	// WireGuard device.
	WireGuard WireGuard
}

// Metrics holds the registry and the instruments the wrappers feed.
type Metrics struct {
	// Registry holds every weavego metric; serve it with Handler.
	Registry *prometheus.Registry

	dnsQueries   *prometheus.CounterVec
	dnsDuration  *prometheus.HistogramVec
	reconciles   prometheus.Counter
	reconcileErr prometheus.Counter
	reconcileDur prometheus.Histogram
	allocDur     *prometheus.HistogramVec
	allocFail    *prometheus.CounterVec
	requests     *prometheus.CounterVec
	requestDur   *prometheus.HistogramVec
}

// New builds the registry: the scrape-time collector over src and the
// instruments of the wrappers.
func New(src Sources) *Metrics {
	// From 100 µs (a local DNS answer) to 10 s (an allocation waiting for
	// another host to hand space over).
	latencyBuckets := prometheus.ExponentialBucketsRange(0.0001, 10, 16)
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		dnsQueries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weavego_dns_replies_total",
			Help: "DNS replies sent to containers, by rcode and by whether an upstream resolver gave them."},
			[]string{"rcode", "forwarded"}),
		dnsDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "weavego_dns_request_duration_seconds",
			Help: "Time from a DNS request to its reply, by whether an upstream resolver gave it.", Buckets: latencyBuckets},
			[]string{"forwarded"}),
		reconciles: prometheus.NewCounter(prometheus.CounterOpts{Name: "weavego_datapath_reconcile_runs_total",
			Help: "Times one network's FDB and neighbour entries were made to match the cluster's endpoints."}),
		reconcileErr: prometheus.NewCounter(prometheus.CounterOpts{Name: "weavego_datapath_reconcile_errors_total",
			Help: "Datapath reconcile runs that failed (the next run retries)."}),
		reconcileDur: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "weavego_datapath_reconcile_duration_seconds",
			Help: "Duration of one network's datapath reconcile run.", Buckets: latencyBuckets}),
		allocDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "weavego_ipam_allocation_duration_seconds",
			Help: "Time to allocate one address, by pool, failures included.", Buckets: latencyBuckets}, []string{"pool"}),
		allocFail: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weavego_ipam_failures_total",
			Help: "IPAM requests refused, by pool, operation and reason."}, []string{"pool", "op", "reason"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weavego_plugin_requests_total",
			Help: "Requests from Docker to the plugin, by endpoint and HTTP status code."}, []string{"endpoint", "code"}),
		requestDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "weavego_plugin_request_duration_seconds",
			Help: "Time the plugin took to answer Docker, by endpoint.", Buckets: latencyBuckets}, []string{"endpoint"}),
	}
	m.Registry.MustRegister(newCollector(src), m.dnsQueries, m.dnsDuration, m.reconciles, m.reconcileErr,
		m.reconcileDur, m.allocDur, m.allocFail, m.requests, m.requestDur)
	return m
}

var _ dnsd.Observer = (*Metrics)(nil)

// ObserveReply implements dnsd.Observer.
func (m *Metrics) ObserveReply(rcode int, forwarded bool, d time.Duration) {
	fw := "false"
	if forwarded {
		fw = "true"
	}
	m.dnsQueries.WithLabelValues(rcodeName(rcode), fw).Inc()
	m.dnsDuration.WithLabelValues(fw).Observe(d.Seconds())
}
