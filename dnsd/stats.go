package dnsd

import (
	"sync/atomic"

	"github.com/miekg/dns"
)

// Stats is a snapshot of a Handler's counters since it was created.
type Stats struct {
	Queries    uint64 // requests received, including rejected ones
	Local      uint64 // answered from the table (incl. NODATA and NXDOMAIN)
	Forwarded  uint64 // answered with an upstream's reply, fresh or cached
	Cached     uint64 // answered with an upstream's reply from the cache
	NXDomain   uint64 // replies with NXDOMAIN (local or forwarded)
	ServFail   uint64 // replies with SERVFAIL (mostly: no upstream answered)
	FormErr    uint64 // replies with FORMERR (malformed requests)
	NotImp     uint64 // replies with NOTIMP (opcode other than QUERY)
	Refused    uint64 // replies with REFUSED (strangers, over budget, internal, other classes, zone transfers)
	Strangers  uint64 // requests refused because their source is in no served subnet
	OverBudget uint64 // forwards refused because the client used up its budget
	Internal   uint64 // forwards refused because the client's network is --internal
	Dropped    uint64 // messages not answered at all (responses, runts)
	Throttled  uint64 // requests not answered because their network, or the host, was over its answer rate
	WriteErrs  uint64 // replies that could not be sent
	// ConnsRefused counts TCP connections closed at once because their
	// client, or the listener, had as many open as it may.
	ConnsRefused uint64
	// UpstreamErrors counts tries of one upstream that failed: no answer
	// in time, a network error, or a SERVFAIL or REFUSED reply.
	UpstreamErrors uint64
}

// counters are the live, lock-free counterparts of Stats.
type counters struct {
	queries, local, forwarded, cached   atomic.Uint64
	nxdomain, servfail, formerr, notimp atomic.Uint64
	refused, dropped, writeErrs         atomic.Uint64
	strangers, overBudget, internal     atomic.Uint64
	upstreamErrs, throttled             atomic.Uint64
	connsRefused                        atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Queries:    c.queries.Load(),
		Local:      c.local.Load(),
		Forwarded:  c.forwarded.Load(),
		Cached:     c.cached.Load(),
		NXDomain:   c.nxdomain.Load(),
		ServFail:   c.servfail.Load(),
		FormErr:    c.formerr.Load(),
		NotImp:     c.notimp.Load(),
		Refused:    c.refused.Load(),
		Dropped:    c.dropped.Load(),
		WriteErrs:  c.writeErrs.Load(),
		Strangers:  c.strangers.Load(),
		OverBudget: c.overBudget.Load(),
		Internal:   c.internal.Load(),
		Throttled:  c.throttled.Load(),

		ConnsRefused: c.connsRefused.Load(),

		UpstreamErrors: c.upstreamErrs.Load(),
	}
}

// countRcode records the outcome of one reply.
func (c *counters) countRcode(rcode int) {
	switch rcode {
	case dns.RcodeNameError:
		c.nxdomain.Add(1)
	case dns.RcodeServerFailure:
		c.servfail.Add(1)
	case dns.RcodeFormatError:
		c.formerr.Add(1)
	case dns.RcodeNotImplemented:
		c.notimp.Add(1)
	case dns.RcodeRefused:
		c.refused.Add(1)
	}
}
