package main

import (
	"context"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/weavego/weavego/internal/dockerapi"
	"github.com/weavego/weavego/plugin/status"
)

// engineReader is the engine watch's view of the Docker API.
type engineReader interface {
	Engine(ctx context.Context) (dockerapi.Engine, error)
}

var _ engineReader = (*dockerapi.Client)(nil)

// engineWatch learns the Docker engine's version and firewall backend in the
// background (never in a driver callback: the daemon may be waiting for the
// plugin) and logs them, with the host's IPv4 forwarding, when they change.
type engineWatch struct {
	docker engineReader // nil: DOCKER_API disabled
	// forwardPath is the sysctl file of IPv4 forwarding, read in the
	// plugin's (the host's) network namespace.
	forwardPath string
	// mu guards last.
	mu   sync.Mutex
	last status.Engine
}

// ipForwardPath is net.ipv4.ip_forward of the namespace the plugin runs in.
const ipForwardPath = "/proc/sys/net/ipv4/ip_forward"

// Status returns what is known of the engine and reads forwarding now.
func (w *engineWatch) Status() status.Engine {
	w.mu.Lock()
	e := w.last
	w.mu.Unlock()
	e.IPForward = readForward(w.forwardPath)
	return e
}

// Version returns the engine's version, "" until it has been read.
func (w *engineWatch) Version() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last.Version
}

// readForward returns "on", "off", or "" when path cannot be read.
func readForward(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if strings.TrimSpace(string(b)) == "0" {
		return "off"
	}
	return "on"
}

// Run reads the engine every interval (every retry until a first answer)
// until ctx ends, logging what it finds whenever it changes.
func (w *engineWatch) Run(ctx context.Context, log logger, retry, interval time.Duration) {
	if w.docker == nil {
		w.mu.Lock()
		w.last.Err = "the Docker API is off (DOCKER_API=off)"
		w.mu.Unlock()
		return
	}
	wait := retry
	for {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		e, err := w.docker.Engine(rctx)
		cancel()
		if err == nil {
			wait = interval
			w.record(e, log)
		} else {
			w.mu.Lock()
			w.last.Err = err.Error()
			w.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// logger is the part of slog.Logger the watch uses.
type logger interface {
	Info(msg string, args ...any)
	Warn(msg string, args ...any)
}

// record keeps e and logs it when it differs from what was known.
func (w *engineWatch) record(e dockerapi.Engine, log logger) {
	w.mu.Lock()
	changed := w.last.Version != e.Version || w.last.FirewallBackend != e.FirewallBackend
	w.last = status.Engine{Version: e.Version, FirewallBackend: e.FirewallBackend}
	w.mu.Unlock()
	if !changed {
		return
	}
	st := w.Status()
	log.Info("docker engine", "version", st.Version, "firewall_backend", st.FirewallBackend, "ip_forward", st.IPForward)
	if p, ok := status.ForwardingProblem(st); ok {
		log.Warn(p.What + "; fix: " + p.Fix)
	}
}
