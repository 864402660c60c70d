package dnsd

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// errNoUpstreams is returned when there is nowhere to forward to.
var errNoUpstreams = errors.New("no upstream resolvers (none configured, none usable in resolv.conf)")

// errBusy is returned when too many forwards are already waiting.
var errBusy = errors.New("too many queries being forwarded")

// maxInflight bounds the pool of concurrent forwards that the networks
// share (see share.go; each network also has netReserve of its own): with
// dead upstreams each one lives for a timeout per upstream, and a flood of
// unknown names must not pile up goroutines and sockets without limit.
// Beyond its share a network's clients get SERVFAIL at once.
const maxInflight = 1024

// forwarder sends queries we do not answer ourselves to upstream resolvers.
// It is safe for concurrent use: static is immutable and rc locks itself.
type forwarder struct {
	static  []string      // configured upstreams, host:port; nil means use rc
	rc      *resolvConf   // nameservers from resolv.conf when static is nil
	slots   chan struct{} // the shared pool: a semaphore of maxInflight forwards
	timeout time.Duration
	failed  *atomic.Uint64 // counts failed tries of one upstream; nil: not counted
	pool    *upstreamPool  // the sockets UDP forwards share
	cache   *answerCache   // upstream answers, as long as their TTLs say
}

func newForwarder(cfg Config) *forwarder {
	f := &forwarder{static: cfg.Upstreams, timeout: cfg.ForwardTimeout, slots: make(chan struct{}, maxInflight),
		pool: newUpstreamPool(), cache: newAnswerCache(cacheSize)}
	if len(f.static) == 0 {
		paths := []string{cfg.ResolvConf}
		if cfg.ResolvConf == DefaultResolvConf {
			paths = append(paths, systemdResolvConf)
		}
		f.rc = newResolvConf(paths)
	}
	return f
}

func (f *forwarder) upstreams() []string {
	if f.rc != nil {
		return f.rc.servers()
	}
	return f.static
}

// exchange forwards r, from a client of the network whose share is s, over
// proto ("udp" or "tcp") to each upstream in turn
// until one answers, each try bounded by f.timeout. A SERVFAIL or REFUSED
// reply moves on to the next upstream but is returned if nothing better
// comes. A truncated UDP reply is returned as is, so the client retries over
// TCP and that retry is forwarded over TCP.
func (f *forwarder) exchange(r *dns.Msg, proto string, s *share) (*dns.Msg, error) {
	ups := f.upstreams()
	if len(ups) == 0 {
		return nil, errNoUpstreams
	}
	pooled, ok := acquire(s, f.slots)
	if !ok {
		return nil, errBusy
	}
	defer release(s, f.slots, pooled)
	c := &dns.Client{Net: proto, Timeout: f.timeout, UDPSize: maxUDPSize}
	var fallback *dns.Msg
	var errs []error
	for _, up := range ups {
		resp, err := f.try(c, r, up)
		if err != nil {
			f.countFailure()
			errs = append(errs, fmt.Errorf("forward %s over %s to %s: %w", questionString(r), proto, up, err))
			continue
		}
		if resp.Rcode == dns.RcodeServerFailure || resp.Rcode == dns.RcodeRefused {
			f.countFailure()
			fallback = resp
			continue
		}
		return resp, nil
	}
	if fallback != nil {
		return fallback, nil
	}
	return nil, errors.Join(errs...)
}

// try asks one upstream, over a shared socket for UDP (upstream.go) and a
// connection of its own for TCP, within f.timeout.
func (f *forwarder) try(c *dns.Client, r *dns.Msg, up string) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()
	if c.Net == "udp" {
		return f.pool.exchange(ctx, r, up)
	}
	resp, _, err := c.ExchangeContext(ctx, r, up)
	return resp, err
}

func (f *forwarder) countFailure() {
	if f.failed != nil {
		f.failed.Add(1)
	}
}

func questionString(r *dns.Msg) string {
	if len(r.Question) == 0 {
		return "(no question)"
	}
	q := r.Question[0]
	return q.Name + " " + dns.TypeToString[q.Qtype]
}
