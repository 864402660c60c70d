package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/net/netutil"
)

// Listen opens the metrics listener on addr (host:port). Its error says
// what to change.
func Listen(addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on METRICS_ADDR %s: %w (pick a free host:port, or empty to turn metrics off)", addr, err)
	}
	return l, nil
}

// Handler answers GET /metrics; every other path is not found.
func (m *Metrics) Handler(log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn), ErrorHandling: promhttp.ContinueOnError}))
	return mux
}

// Limits of the metrics listener. A scraper needs one connection and well
// under a second per scrape; the limits make anyone else who reaches the
// address cost a bounded number of goroutines and buffers, for a bounded
// time. A connection over the cap waits in the kernel's backlog until one
// closes; the idle timeout frees the slots of idle keep-alive connections.
const (
	MaxConns          = 16
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 10 * time.Second
	WriteTimeout      = 30 * time.Second
	IdleTimeout       = 90 * time.Second
	maxHeaderBytes    = 16 << 10
)

// limits are the listener's bounds; tests shorten them.
type limits struct {
	conns                         int
	readHeader, read, write, idle time.Duration
}

// Serve answers GET /metrics on l until ctx ends, within the limits above.
func (m *Metrics) Serve(ctx context.Context, l net.Listener, log *slog.Logger) error {
	return m.serve(ctx, l, log, limits{conns: MaxConns, readHeader: ReadHeaderTimeout, read: ReadTimeout,
		write: WriteTimeout, idle: IdleTimeout})
}

func (m *Metrics) serve(ctx context.Context, l net.Listener, log *slog.Logger, lim limits) error {
	srv := &http.Server{Handler: m.Handler(log), MaxHeaderBytes: maxHeaderBytes, ReadHeaderTimeout: lim.readHeader,
		ReadTimeout: lim.read, WriteTimeout: lim.write, IdleTimeout: lim.idle}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	if err := srv.Serve(netutil.LimitListener(l, lim.conns)); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics: serve on %s: %w", l.Addr(), err)
	}
	return nil
}
