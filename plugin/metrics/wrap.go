package metrics

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/weavego/weavego/datapath"
	"github.com/weavego/weavego/ipalloc"
	"github.com/weavego/weavego/ipamdriver"
	"github.com/weavego/weavego/reconcile"
)

// Kernel is the reconciler's view of the datapath, which Kernel wraps.
type Kernel = reconcile.Kernel

// Kernel returns k, counting and timing each reconcile of a network's
// remotes.
func (m *Metrics) Kernel(k Kernel) Kernel { return &kernel{next: k, m: m} }

type kernel struct {
	next Kernel
	m    *Metrics
}

func (k *kernel) SetRemotes(networkID string, remotes []datapath.Remote, floodVTEPs []netip.Addr) error {
	start := time.Now()
	err := k.next.SetRemotes(networkID, remotes, floodVTEPs)
	k.m.reconciles.Inc()
	k.m.reconcileDur.Observe(time.Since(start).Seconds())
	if err != nil {
		k.m.reconcileErr.Inc()
	}
	return err
}

func (k *kernel) SetVXLANPeers(addrs []netip.Addr) error { return k.next.SetVXLANPeers(addrs) }

func (k *kernel) DirectMAC(id string) net.HardwareAddr { return k.next.DirectMAC(id) }

func (k *kernel) DirectPaths(id string) map[netip.Addr]string { return k.next.DirectPaths(id) }

// Allocator is the IPAM driver's view of the allocator, which Allocator wraps.
type Allocator = ipamdriver.Allocator

// Allocator returns a, timing address allocations and counting failures by
// reason.
func (m *Metrics) Allocator(a Allocator) Allocator { return &allocator{next: a, m: m} }

type allocator struct {
	next Allocator
	m    *Metrics
}

func (a *allocator) RequestPool(ctx context.Context, req ipalloc.PoolRequest) (ipalloc.Pool, error) {
	p, err := a.next.RequestPool(ctx, req)
	if err != nil {
		pool := req.Subnet
		if pool == "" {
			pool = "auto"
		}
		a.m.allocFail.WithLabelValues(pool, "pool", failureReason(err)).Inc()
	}
	return p, err
}

func (a *allocator) ReleasePool(ctx context.Context, id string) error {
	return a.next.ReleasePool(ctx, id)
}

func (a *allocator) RequestAddress(ctx context.Context, req ipalloc.AddressRequest) (netip.Prefix, error) {
	start := time.Now()
	ip, err := a.next.RequestAddress(ctx, req)
	a.m.allocDur.WithLabelValues(req.PoolID).Observe(time.Since(start).Seconds())
	if err != nil {
		a.m.allocFail.WithLabelValues(req.PoolID, "address", failureReason(err)).Inc()
	}
	return ip, err
}

func (a *allocator) ReleaseAddress(ctx context.Context, poolID string, ip netip.Addr) error {
	return a.next.ReleaseAddress(ctx, poolID, ip)
}

// failureReason names an allocator error from a bounded set.
func failureReason(err error) string {
	reasons := []struct {
		err  error
		name string
	}{
		{ipalloc.ErrPoolExhausted, "exhausted"}, {ipalloc.ErrNoSpace, "no_space"},
		{ipalloc.ErrAddressInUse, "in_use"}, {ipalloc.ErrOutOfPool, "out_of_pool"},
		{ipalloc.ErrPoolOverlap, "overlap"}, {ipalloc.ErrUnknownPool, "unknown_pool"},
		{ipalloc.ErrRangeMismatch, "range_mismatch"}, {ipalloc.ErrInvalidRequest, "invalid"},
		{ipalloc.ErrCorruptState, "corrupt_state"}, {context.DeadlineExceeded, "timeout"},
		{context.Canceled, "canceled"},
	}
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.name
		}
	}
	return "other"
}

// Instrument returns h, counting and timing each request by endpoint (the
// plugin protocol's method, such as NetworkDriver.Join) and status code.
func (m *Metrics) Instrument(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(rec, r)
		ep := endpointLabel(r.URL.Path)
		m.requests.WithLabelValues(ep, strconv.Itoa(rec.code)).Inc()
		m.requestDur.WithLabelValues(ep).Observe(time.Since(start).Seconds())
	})
}

// endpointLabel keeps the label bounded: the plugin protocol's methods are
// Plugin.*, NetworkDriver.* and IpamDriver.* with short names; anything
// else is "other".
func endpointLabel(path string) string {
	ep := strings.TrimPrefix(path, "/")
	for _, prefix := range []string{"Plugin.", "NetworkDriver.", "IpamDriver."} {
		name, ok := strings.CutPrefix(ep, prefix)
		if ok && len(name) > 0 && len(name) <= 40 && isIdent(name) {
			return ep
		}
	}
	return "other"
}

func isIdent(s string) bool {
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}
