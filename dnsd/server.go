package dnsd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
)

// ErrClosed is returned by SetNetworks after Close.
var ErrClosed = errors.New("dns server is closed")

// Server runs a Handler on UDP and TCP listeners for a changing set of
// networks (the weavego networks on this host): on their gateways and on
// the service address.
type Server struct {
	h    *Handler
	port int
	log  *slog.Logger

	// mu guards listeners and closed. It is held while listeners start and
	// stop so that a removed address is released before it can be re-added.
	mu        sync.Mutex
	listeners map[where]*listener
	closed    bool
}

// where is one listening address: an address in a network namespace (""
// for the server's own). Every network's namespace has its own service
// address.
type where struct {
	netns string
	addr  netip.Addr
}

func (w where) compare(o where) int {
	if c := strings.Compare(w.netns, o.netns); c != 0 {
		return c
	}
	return w.addr.Compare(o.addr)
}

// New returns a Server answering from table. Nothing listens, and no client
// is answered, until SetNetworks is called. log may be nil.
func New(cfg Config, table *Table, log *slog.Logger) (*Server, error) {
	h, err := NewHandler(cfg, table)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{h: h, port: h.cfg.Port, log: log, listeners: map[where]*listener{}}, nil
}

// Handler returns the server's handler, e.g. for its Stats.
func (s *Server) Handler() *Handler { return s.h }

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() Stats { return s.h.Stats() }

// SetNetworks makes the server serve exactly nets: it answers clients inside
// their subnets (and refuses all others), and listens (UDP and TCP on the
// configured port) on their gateways (IPv4 and IPv6) and on
// Config.ServiceAddr (and ServiceAddr6, for networks with an IPv6 gateway),
// in the network namespace of each network
// (Served.NetNS), or once in its own for the networks that have none. It starts listeners for new addresses, stops those for
// removed ones, and restarts any that died; it is idempotent and cheap when
// nothing changed. Addresses that fail are reported in the joined error,
// each naming the address; the others are still served, and the failed
// ones are retried by the next call.
func (s *Server) SetNetworks(nets []Served) error {
	want := map[where]bool{}
	for _, n := range nets {
		for _, gw := range []netip.Addr{n.Gateway, n.Gateway6} {
			if gw.IsValid() {
				want[where{n.NetNS, gw.Unmap()}] = true
			}
		}
		if s.h.cfg.ServiceAddr.IsValid() {
			want[where{n.NetNS, s.h.cfg.ServiceAddr}] = true
		}
		if s.h.cfg.ServiceAddr6.IsValid() && n.Gateway6.IsValid() {
			want[where{n.NetNS, s.h.cfg.ServiceAddr6}] = true
		}
	}
	s.h.setServed(nets)
	return s.listen(want)
}

// listen makes the listeners match want.
func (s *Server) listen(want map[where]bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	var errs []error
	for _, a := range sortedKeys(s.listeners) {
		if l := s.listeners[a]; !want[a] || l.dead() {
			errs = append(errs, l.stop())
			delete(s.listeners, a)
		}
	}
	for _, a := range sortedKeys(want) {
		if _, ok := s.listeners[a]; ok {
			continue
		}
		l, err := startListener(a, s.port, s.h, s.log)
		if err != nil && a.netns != "" {
			err = fmt.Errorf("%w (in %s)", err, a.netns)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("dns: %w", err))
			continue
		}
		s.listeners[a] = l
	}
	return errors.Join(errs...)
}

// Addrs returns the "ip:port" addresses currently listened on (UDP and TCP
// share each), sorted. With AnyPort it reveals the chosen ports.
func (s *Server) Addrs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.listeners))
	for _, a := range sortedKeys(s.listeners) {
		out = append(out, s.listeners[a].addr)
	}
	return out
}

// Run serves until ctx is done, then closes the server.
func (s *Server) Run(ctx context.Context) error {
	<-ctx.Done()
	return s.Close()
}

// Close stops all listeners and closes the sockets to the upstreams; later
// SetNetworks calls fail with ErrClosed. Requests being forwarded fail at
// once and their replies are dropped. Close is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.h.fwd.pool.close()
	var errs []error
	for _, a := range sortedKeys(s.listeners) {
		errs = append(errs, s.listeners[a].stop())
	}
	clear(s.listeners)
	return errors.Join(errs...)
}

func sortedKeys[V any](m map[where]V) []where {
	keys := make([]where, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, where.compare)
	return keys
}
