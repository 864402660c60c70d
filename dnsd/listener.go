package dnsd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/weavego/weavego/internal/nsrun"
)

// stopGrace bounds how long stopping a listener waits for in-flight
// requests; their sockets are closed regardless, so the port is free.
const stopGrace = 500 * time.Millisecond

// anyPortTries bounds the search for a port free for both UDP and TCP.
const anyPortTries = 10

// listener is the UDP and TCP server pair on one address.
type listener struct {
	addr     string // actual ip:port
	udp, tcp *served
}

// served is one running dns.Server.
type served struct {
	srv      *dns.Server
	stopping atomic.Bool   // set before shutdown, so exit is not an error
	exited   chan struct{} // closed when ActivateAndServe has returned
	err      error         // what it returned; read after exited is closed
}

// startListener binds UDP and TCP on w's address and port (port AnyPort:
// any port free for both), in w's network namespace, and starts serving h
// on them.
func startListener(w where, port int, h *Handler, log *slog.Logger) (*listener, error) {
	var pc net.PacketConn
	var ln net.Listener
	var err error
	if w.netns == "" {
		pc, ln, err = bindPair(w.addr, port)
	} else {
		err = nsrun.Do(w.netns, func() (err error) { pc, ln, err = bindPair(w.addr, port); return err })
	}
	if err != nil {
		return nil, err
	}
	l := &listener{addr: pc.LocalAddr().String()}
	log = log.With("addr", l.addr, "netns", w.netns)
	d := newDoor(h, w)
	udp := &dns.Server{PacketConn: pc, DecorateReader: d.reader, MsgAcceptFunc: d.h.accept}
	if l.udp, err = serve(udp, d, log.With("net", "udp")); err != nil {
		ln.Close()
		return nil, fmt.Errorf("serve udp %s: %w", l.addr, err)
	}
	tcp := limitConns(ln, &h.stats.connsRefused)
	if l.tcp, err = serve(&dns.Server{Listener: tcp, MsgAcceptFunc: d.accept}, d, log.With("net", "tcp")); err != nil {
		return nil, errors.Join(fmt.Errorf("serve tcp %s: %w", l.addr, err), l.udp.stop())
	}
	return l, nil
}

// bindPair opens the UDP socket and the TCP listener on the same port.
func bindPair(a netip.Addr, port int) (net.PacketConn, net.Listener, error) {
	p := uint16(max(port, 0))
	for try := 0; ; try++ {
		pc, err := net.ListenPacket("udp", netip.AddrPortFrom(a, p).String())
		if err != nil {
			return nil, nil, err
		}
		tcpAddr := netip.AddrPortFrom(a, uint16(pc.LocalAddr().(*net.UDPAddr).Port))
		ln, err := net.Listen("tcp", tcpAddr.String())
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		if port != AnyPort || !errors.Is(err, syscall.EADDRINUSE) || try >= anyPortTries {
			return nil, nil, err
		}
	}
}

// serve starts srv with d and returns once it is accepting requests. The
// caller sets srv's MsgAcceptFunc: UDP requests pass the answer rates as
// they are read (gateReader), TCP ones in door.accept.
func serve(srv *dns.Server, d *door, log *slog.Logger) (*served, error) {
	srv.Handler = d
	srv.MsgInvalidFunc = d.h.invalid
	srv.UDPSize = maxUDPSize
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	s := &served{srv: srv, exited: make(chan struct{})}
	go func() {
		defer close(s.exited)
		s.err = srv.ActivateAndServe()
		if s.err != nil && !s.stopping.Load() {
			log.Warn("dns listener stopped; restarted by the next SetNetworks", "err", s.err)
		}
	}()
	select {
	case <-started:
		return s, nil
	case <-s.exited:
		return nil, s.err
	}
}

// dead reports whether either server stopped on its own.
func (l *listener) dead() bool {
	return l.udp.hasExited() || l.tcp.hasExited()
}

// stop shuts both servers down, waiting at most stopGrace.
func (l *listener) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), stopGrace)
	defer cancel()
	var errs []error
	if err := l.udp.shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("stop dns udp listener %s: %w", l.addr, err))
	}
	if err := l.tcp.shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("stop dns tcp listener %s: %w", l.addr, err))
	}
	return errors.Join(errs...)
}

func (s *served) hasExited() bool {
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}

// stop shuts s down with the default grace (used on a failed start).
func (s *served) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), stopGrace)
	defer cancel()
	return s.shutdown(ctx)
}

// shutdown stops s. Running out of grace is not an error: the socket is
// closed either way and stragglers' replies are simply dropped.
func (s *served) shutdown(ctx context.Context) error {
	s.stopping.Store(true)
	if s.hasExited() {
		return nil // it closed its own socket on the way out
	}
	err := s.srv.ShutdownContext(ctx)
	if err == nil || errors.Is(err, context.DeadlineExceeded) || s.hasExited() {
		return nil
	}
	return err
}
