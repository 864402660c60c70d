package dnsd

import (
	"net"
	"time"

	"github.com/miekg/dns"
)

// arenaSize is how much memory admitted UDP requests are copied into at a
// time: one allocation serves many requests.
const arenaSize = 64 << 10

// gateReader reads a door's UDP requests and drops, before the library
// starts a goroutine for them, those over the answer rates (door.admit) and
// responses: a flood then costs the read and little else. The library calls ReadUDP from
// its one read loop per socket, so buf and arena need no lock. TCP requests
// are read by the library's reader and gated by door.accept.
type gateReader struct {
	dns.Reader
	d     *door
	buf   []byte // what each datagram is read into
	arena []byte // admitted requests are copied to its start, which then moves on
}

var _ dns.Reader = (*gateReader)(nil)

// reader is the DecorateReader of the door's UDP server.
func (d *door) reader(r dns.Reader) dns.Reader { return &gateReader{Reader: r, d: d} }

// ReadUDP returns the next request within the rates. It sets no read
// deadline: the library's shutdown sets one in the past to end the read,
// which must stay.
func (r *gateReader) ReadUDP(conn *net.UDPConn, _ time.Duration) ([]byte, *dns.SessionUDP, error) {
	if r.buf == nil {
		r.buf = make([]byte, maxUDPSize)
	}
	for {
		n, s, err := dns.ReadFromSessionUDP(conn, r.buf)
		if err != nil {
			return nil, nil, err
		}
		switch {
		case n < headerLen: // a runt: the library counts and drops it
		case r.buf[2]&0x80 != 0: // QR set, a response: never answered (see accept)
			r.d.h.stats.dropped.Add(1)
			continue
		case !r.d.admit():
			r.d.h.stats.throttled.Add(1)
			continue
		}
		if len(r.arena) < n {
			r.arena = make([]byte, max(arenaSize, n))
		}
		m := r.arena[:n:n]
		r.arena = r.arena[n:]
		copy(m, r.buf[:n])
		return m, s, nil
	}
}
