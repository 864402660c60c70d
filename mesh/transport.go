package mesh

import (
	"fmt"
	"log"
	"net"
	"net/netip"
	"strings"
	"sync"

	"github.com/hashicorp/memberlist"
	"golang.org/x/time/rate"
)

// Datagrams from addresses that are not members (a host about to join, or
// anyone else) share one rate; members' datagrams always pass, so failure
// detection goes on during a flood. A datagram costs memberlist one AES-GCM
// attempt, so the rate bounds the CPU a stranger can take.
const (
	strangerPacketRate  = 512
	strangerPacketBurst = 1024
)

func newStrangerLimiter() *rate.Limiter {
	return rate.NewLimiter(strangerPacketRate, strangerPacketBurst)
}

// guardedTransport is memberlist's own network transport with the guard in
// front of its streams and the stranger rate in front of its datagrams.
type guardedTransport struct {
	*memberlist.NetTransport
	guard    *streamGuard
	isMember func(netip.Addr) bool
	// onDrop is called for each datagram dropped by the stranger rate.
	onDrop  func(from netip.Addr)
	packets *rate.Limiter

	streams chan net.Conn
	packetC chan *memberlist.Packet
	stop    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
}

var _ memberlist.NodeAwareTransport = (*guardedTransport)(nil)

// newGuardedTransport binds addr:port (port 0: a free one) and starts
// passing what is admitted on to memberlist.
func newGuardedTransport(addr string, port int, logger *log.Logger, guard *streamGuard,
	isMember func(netip.Addr) bool, onDrop func(netip.Addr)) (*guardedTransport, error) {
	nc := &memberlist.NetTransportConfig{BindAddrs: []string{addr}, BindPort: port, Logger: logger}
	tries := 1
	if port == 0 {
		tries = 10 // TCP and UDP must get the same free port: retry on a clash
	}
	var nt *memberlist.NetTransport
	var err error
	for range tries {
		if nt, err = memberlist.NewNetTransport(nc); err == nil || !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("listen for gossip on %s:%d: %w", addr, port, err)
	}
	t := &guardedTransport{NetTransport: nt, guard: guard, isMember: isMember, onDrop: onDrop,
		packets: newStrangerLimiter(),
		streams: make(chan net.Conn), packetC: make(chan *memberlist.Packet), stop: make(chan struct{})}
	t.wg.Add(2)
	go t.passStreams()
	go t.passPackets()
	return t, nil
}

// StreamCh returns the admitted streams.
func (t *guardedTransport) StreamCh() <-chan net.Conn { return t.streams }

// PacketCh returns the admitted datagrams.
func (t *guardedTransport) PacketCh() <-chan *memberlist.Packet { return t.packetC }

// Shutdown closes the listeners and stops passing streams and datagrams on.
func (t *guardedTransport) Shutdown() error {
	err := t.NetTransport.Shutdown()
	t.once.Do(func() { close(t.stop) })
	t.wg.Wait()
	return err
}

// passStreams checks each accepted stream on a goroutine of its own, so
// that a slow stream never holds up the listener.
func (t *guardedTransport) passStreams() {
	defer t.wg.Done()
	in := t.NetTransport.StreamCh()
	for {
		select {
		case <-t.stop:
			return
		case conn := <-in:
			go t.passStream(conn)
		}
	}
}

func (t *guardedTransport) passStream(conn net.Conn) {
	admitted, err := t.guard.admit(conn)
	if err != nil {
		return
	}
	select {
	case t.streams <- admitted:
	case <-t.stop:
		_ = admitted.Close()
	}
}

func (t *guardedTransport) passPackets() {
	defer t.wg.Done()
	in := t.NetTransport.PacketCh()
	for {
		select {
		case <-t.stop:
			return
		case p := <-in:
			if !t.allowPacket(p) {
				continue
			}
			select {
			case t.packetC <- p:
			case <-t.stop:
				return
			}
		}
	}
}

// allowPacket lets a member's datagram through, and a stranger's while
// strangers are within their shared rate.
func (t *guardedTransport) allowPacket(p *memberlist.Packet) bool {
	from := netip.Addr{}
	if ua, ok := p.From.(*net.UDPAddr); ok {
		from, _ = netip.AddrFromSlice(ua.IP)
		from = from.Unmap()
	}
	if t.isMember(from) || t.packets.Allow() {
		return true
	}
	if t.onDrop != nil {
		t.onDrop(from)
	}
	return false
}
