package dnsd

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// The sockets UDP forwards share. A socket of its own for each forwarded
// query costs a conntrack entry per query on the host (tens of thousands
// under load, each kept for the kernel's UDP timeout); the queries to one
// upstream instead share a few connected sockets, told apart by a random
// ID and their question. Each socket carries at most sockQueries queries
// and lives at most sockLife, then makes way for a new one (a new source
// port), so that an off-path attacker who learns a socket's port has
// little time to guess IDs against it; replies are taken only from the
// upstream the socket is connected to and only for the question asked.

const (
	// poolSockets is how many sockets the UDP forwards to one upstream
	// share at most.
	poolSockets = 8
	// sockQueries and sockLife bound what one socket carries.
	sockQueries = 4096
	sockLife    = 30 * time.Second
	// readSize is the largest reply read (a UDP datagram's payload).
	readSize = 65535
)

// errSocketClosed is what the waiters of a socket that closed get.
var errSocketClosed = errors.New("upstream socket closed")

// upstreamPool holds the shared sockets of each upstream. Safe for
// concurrent use.
type upstreamPool struct {
	// mu guards socks and closed.
	mu     sync.Mutex
	socks  map[string][]*muxConn // by upstream host:port
	next   int                   // round robin over an upstream's sockets
	closed bool
}

func newUpstreamPool() *upstreamPool { return &upstreamPool{socks: map[string][]*muxConn{}} }

// muxConn is one connected UDP socket and the queries waiting on it.
type muxConn struct {
	conn *net.UDPConn
	born time.Time
	// mu guards pending, sent and retired.
	mu      sync.Mutex
	pending map[uint16]*waiter
	sent    int
	retired bool // takes no new queries; closed once pending is empty
}

// waiter is one query waiting for its reply.
type waiter struct {
	q     dns.Question
	reply chan result // buffered: one result
}

// result is a reply, or why none will come.
type result struct {
	m   *dns.Msg
	err error
}

// exchange sends r to up over a shared socket and waits, until ctx is
// done, for the reply to the same question with the same ID. r itself is
// not changed; the reply carries the ID the upstream saw.
func (p *upstreamPool) exchange(ctx context.Context, r *dns.Msg, up string) (*dns.Msg, error) {
	w := &waiter{q: r.Question[0], reply: make(chan result, 1)}
	var mc *muxConn
	var id uint16
	var err error
	for range 2 { // the socket in turn may retire between socket and add
		if mc, err = p.socket(up); err == nil {
			if id, err = mc.add(w); err == nil {
				break
			}
		}
	}
	if err != nil {
		return nil, err
	}
	defer mc.done(id)
	q := *r // shallow: only the ID differs
	q.Id = id
	buf, err := q.Pack()
	if err != nil {
		return nil, fmt.Errorf("pack query: %w", err)
	}
	if _, err := mc.conn.Write(buf); err != nil {
		return nil, err
	}
	select {
	case res := <-w.reply:
		return res.m, res.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// socket returns a socket to up that takes queries, opening one when there
// are fewer than poolSockets or the one in turn is retired.
func (p *upstreamPool) socket(up string) (*muxConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errSocketClosed
	}
	socks := p.socks[up]
	p.next++
	if len(socks) == poolSockets {
		i := p.next % poolSockets
		if mc := socks[i]; mc.usable(time.Now()) {
			return mc, nil
		}
		mc, err := dialMux(up)
		if err != nil {
			return nil, err
		}
		socks[i].retire()
		socks[i] = mc
		return mc, nil
	}
	mc, err := dialMux(up)
	if err != nil {
		return nil, err
	}
	p.socks[up] = append(socks, mc)
	return mc, nil
}

// close closes every socket; their waiters fail at once.
func (p *upstreamPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, socks := range p.socks {
		for _, mc := range socks {
			mc.retire()
			mc.conn.Close()
		}
	}
	clear(p.socks)
}

func dialMux(up string) (*muxConn, error) {
	raddr, err := net.ResolveUDPAddr("udp", up)
	if err != nil {
		return nil, err
	}
	conn, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		return nil, err
	}
	mc := &muxConn{conn: conn, born: time.Now(), pending: map[uint16]*waiter{}}
	go mc.read()
	return mc, nil
}

// usable reports whether mc takes new queries at now.
func (mc *muxConn) usable(now time.Time) bool {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	return !mc.retired && mc.sent < sockQueries && now.Sub(mc.born) < sockLife
}

// add registers w under a random ID no other query on mc waits with.
func (mc *muxConn) add(w *waiter) (uint16, error) {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	if mc.retired {
		return 0, errSocketClosed
	}
	for {
		id := uint16(rand.Uint32()) //nolint:gosec // math/rand/v2's generator is ChaCha8, seeded from the OS
		if _, taken := mc.pending[id]; !taken {
			mc.pending[id] = w
			mc.sent++
			return id, nil
		}
	}
}

// done forgets the query with id; a retired socket closes with its last.
func (mc *muxConn) done(id uint16) {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	delete(mc.pending, id)
	if mc.retired && len(mc.pending) == 0 {
		mc.conn.Close()
	}
}

// retire stops mc taking queries; it closes once none waits.
func (mc *muxConn) retire() {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	mc.retired = true
	if len(mc.pending) == 0 {
		mc.conn.Close()
	}
}

// read hands each reply to the query waiting with its ID and question,
// and drops anything else, until the socket fails or is closed; then the
// queries still waiting fail at once. An ICMP error (the upstream's port
// is closed) fails the queries waiting then.
func (mc *muxConn) read() {
	buf := make([]byte, readSize)
	for {
		n, err := mc.conn.Read(buf)
		if errors.Is(err, syscall.ECONNREFUSED) {
			mc.failAll(err)
			continue
		}
		if err != nil {
			break
		}
		m := new(dns.Msg)
		if m.Unpack(buf[:n]) != nil || !m.Response || len(m.Question) != 1 {
			continue
		}
		mc.mu.Lock()
		w := mc.pending[m.Id]
		if w != nil && sameQuestion(w.q, m.Question[0]) {
			delete(mc.pending, m.Id)
			w.reply <- result{m: m}
		}
		mc.mu.Unlock()
	}
	mc.mu.Lock()
	mc.retired = true
	mc.mu.Unlock()
	mc.conn.Close()
	mc.failAll(errSocketClosed)
}

// failAll fails every query waiting on mc with err.
func (mc *muxConn) failAll(err error) {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	for id, w := range mc.pending {
		w.reply <- result{err: err}
		delete(mc.pending, id)
	}
}
