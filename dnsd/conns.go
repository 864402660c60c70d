package dnsd

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// Bounds of the TCP connections one listener holds open. Each costs a
// goroutine and a socket for up to the library's idle timeout, and a client
// needs one at a time (a stub resolver retries over TCP only after a
// truncated UDP answer). A container that forges source addresses of its
// subnet can complete handshakes for them, so the listener's total is
// bounded too: past it, its network's clients wait for UDP answers alone;
// other networks have listeners of their own.
const (
	maxConnsPerClient   = 8
	maxConnsPerListener = 256
)

// connLimiter is a listener that closes at once the connections of a
// client that already holds maxConnsPerClient open, and every connection
// while maxConnsPerListener are open.
type connLimiter struct {
	net.Listener
	refused *atomic.Uint64 // counts the connections closed at once

	// mu guards open and total.
	mu    sync.Mutex
	open  map[netip.Addr]int // connections open per client address
	total int
}

func limitConns(ln net.Listener, refused *atomic.Uint64) *connLimiter {
	return &connLimiter{Listener: ln, refused: refused, open: map[netip.Addr]int{}}
}

// Accept returns the next connection within the bounds.
func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		var a netip.Addr
		if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
			a = ta.AddrPort().Addr().Unmap()
		}
		if l.take(a) {
			return &limitedConn{Conn: c, l: l, client: a}, nil
		}
		l.refused.Add(1)
		c.Close()
	}
}

func (l *connLimiter) take(a netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total >= maxConnsPerListener || l.open[a] >= maxConnsPerClient {
		return false
	}
	l.total++
	l.open[a]++
	return true
}

func (l *connLimiter) give(a netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.open[a]--; l.open[a] <= 0 {
		delete(l.open, a)
	}
}

// limitedConn gives its place back when it is closed, once.
type limitedConn struct {
	net.Conn
	l      *connLimiter
	client netip.Addr
	closed atomic.Bool
}

func (c *limitedConn) Close() error {
	if !c.closed.Swap(true) {
		c.l.give(c.client)
	}
	return c.Conn.Close()
}
