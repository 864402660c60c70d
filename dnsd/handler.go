package dnsd

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// maxUDPSize is the largest UDP payload we read or send, and what we
// advertise in our OPT record.
const maxUDPSize = 4096

// Handler answers DNS requests from a Table and forwards everything else to
// upstream resolvers. It implements dns.Handler; ServeDNS is safe for
// concurrent use and holds no lock of its own (the table and the served
// networks are read through atomic pointers, counters are atomic, the
// forwarder locks only its resolv.conf cache, the limiter one short
// critical section per forward).
type Handler struct {
	cfg    Config
	table  *Table
	fwd    *forwarder
	limits *limiter // per client address
	// netLimits is a budget per network, so that a container cycling
	// through source addresses of its subnet still cannot starve the
	// clients of other networks.
	netLimits *limiter
	served    atomic.Pointer[servedSet] // networks whose clients are answered
	stats     counters
	// answers bounds what the listeners answer in all (each network's
	// share has its own gate too); epoch is the origin of its clock.
	answers *gate
	epoch   time.Time

	// setMu serialises setServed, which carries each network's share over
	// from the snapshot it replaces. Requests never take it.
	setMu sync.Mutex
}

var _ dns.Handler = (*Handler)(nil)

// networkShare is how many clients' budgets one network's forwarding budget
// holds.
const networkShare = 10

// NewHandler returns a Handler answering from table with cfg (zero fields
// take the defaults). It fails if cfg is invalid.
func NewHandler(cfg Config, table *Table) (*Handler, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	h := &Handler{cfg: cfg, table: table, fwd: newForwarder(cfg),
		limits:    newLimiter(cfg.ClientRate, cfg.ClientBurst, cfg.MaxClients),
		netLimits: newLimiter(networkShare*cfg.ClientRate, networkShare*cfg.ClientBurst, cfg.MaxClients),
		answers:   gateFor(cfg.AnswerRate), epoch: time.Now()}
	h.fwd.failed = &h.stats.upstreamErrs
	return h, nil
}

// Stats returns a snapshot of the handler's counters.
func (h *Handler) Stats() Stats { return h.stats.snapshot() }

// ServeDNS answers one request on w. It never blocks longer than the
// forwarding budget: one ForwardTimeout per upstream. Called directly, it
// knows the client by its source address alone; the Server's listeners also
// know the network a request arrived on (see door).
func (h *Handler) ServeDNS(w dns.ResponseWriter, r *dns.Msg) { h.serve(w, r, nil) }

// serve answers r, which arrived at d (nil: not through a listener).
func (h *Handler) serve(w dns.ResponseWriter, r *dns.Msg, d *door) {
	if r.Response {
		h.stats.dropped.Add(1) // answering responses invites reflection loops
		return
	}
	start := time.Now()
	h.stats.queries.Add(1)
	resp, forwarded := h.answer(w, r, d)
	h.write(w, r, resp)
	if h.cfg.Observer != nil {
		h.cfg.Observer.ObserveReply(resp.Rcode, forwarded, time.Since(start))
	}
}

// answer builds the reply to r, and says whether an upstream gave it.
func (h *Handler) answer(w dns.ResponseWriter, r *dns.Msg, d *door) (resp *dns.Msg, forwarded bool) {
	idx := h.table.load()
	c, ok := h.client(w.RemoteAddr(), idx, d)
	if !ok {
		h.stats.strangers.Add(1) // not an open resolver: only our networks' containers
		return errorReply(r, dns.RcodeRefused), false
	}
	if rcode := check(r); rcode != dns.RcodeSuccess {
		return errorReply(r, rcode), false
	}
	if resp := h.local(r, idx, c.scope); resp != nil {
		h.stats.local.Add(1)
		return resp, false
	}
	if c.internal {
		// An --internal network has no way out, and a query sent upstream
		// would be one (data encoded in the name).
		h.stats.internal.Add(1)
		return errorReply(r, dns.RcodeRefused), false
	}
	if !h.limits.allow(c.addr) || !h.netLimits.allow(c.network) {
		h.stats.overBudget.Add(1) // a cached answer counts against the budget as a forward does
		return errorReply(r, dns.RcodeRefused), false
	}
	now := time.Now()
	if resp := h.fwd.cache.get(r, now); resp != nil { // only where it would be forwarded: see cache.go
		h.stats.cached.Add(1)
		h.stats.forwarded.Add(1)
		return resp, true
	}
	resp, err := h.fwd.exchange(r, network(w), c.share)
	if err != nil {
		return errorReply(r, dns.RcodeServerFailure), false
	}
	h.fwd.cache.put(r, resp, now)
	h.stats.forwarded.Add(1)
	resp.Id = r.Id
	return resp, true
}

// check returns the rcode a request must be rejected with, or RcodeSuccess.
func check(r *dns.Msg) int {
	if r.Opcode != dns.OpcodeQuery {
		return dns.RcodeNotImplemented
	}
	if len(r.Question) != 1 {
		return dns.RcodeFormatError
	}
	var opts int
	for _, rr := range r.Extra {
		if rr != nil && rr.Header().Rrtype == dns.TypeOPT {
			opts++
		}
	}
	if opts > 1 { // RFC 6891 section 6.1.1
		return dns.RcodeFormatError
	}
	if opt := r.IsEdns0(); opt != nil && opt.Version() != 0 {
		return dns.RcodeBadVers
	}
	q := r.Question[0]
	if q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY {
		return dns.RcodeRefused
	}
	switch q.Qtype {
	case dns.TypeAXFR, dns.TypeIXFR:
		return dns.RcodeRefused
	}
	return dns.RcodeSuccess
}

// errorReply is an empty reply to r carrying rcode.
func errorReply(r *dns.Msg, rcode int) *dns.Msg {
	m := new(dns.Msg)
	m.SetRcode(r, rcode)
	m.RecursionAvailable = true
	if rcode == dns.RcodeBadVers {
		m.SetEdns0(maxUDPSize, false) // BADVERS lives in the OPT record
	}
	return m
}

// write sends resp, fitted to what the client can receive, and counts it.
func (h *Handler) write(w dns.ResponseWriter, r, resp *dns.Msg) {
	opt := r.IsEdns0()
	if opt != nil && resp.IsEdns0() == nil && resp.Rcode <= 0xF {
		resp.SetEdns0(maxUDPSize, false)
	}
	size := dns.MaxMsgSize
	if network(w) == "udp" {
		size = dns.MinMsgSize
		if opt != nil {
			size = min(max(int(opt.UDPSize()), dns.MinMsgSize), maxUDPSize)
		}
	}
	resp.Truncate(size)
	h.stats.countRcode(resp.Rcode)
	if err := w.WriteMsg(resp); err != nil {
		h.stats.writeErrs.Add(1)
	}
}

// network is "tcp" or "udp": the transport the client used, which is also
// the one we forward over so that truncation is handled end to end.
func network(w dns.ResponseWriter) string {
	if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
		return "tcp"
	}
	return "udp"
}
