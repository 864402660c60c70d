package mesh

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/weavego/weavego/internal/ipconv"
)

// Join backoff: a missing peer is retried after joinRetryMin, doubling up
// to joinRetryMax (plus up to 25% jitter); a peer seen as a member is
// checked again every memberCheck.
const (
	joinRetryMin = time.Second
	memberCheck  = 5 * time.Second
	joinRetryMax = 30 * time.Second
	leaveTimeout = 3 * time.Second
	resolveLimit = 2 * time.Second
	// maxQueuedBroadcasts bounds memberlist's gossip queue, which peers
	// feed by passing broadcasts on; the oldest go first when it is over.
	maxQueuedBroadcasts = 4096
)

// Run joins the configured peers and keeps them joined, reaps tombstones
// and forgets long-gone peers, until ctx ends; then it leaves the cluster
// gracefully and shuts gossip down. It returns nil after a clean leave.
// Call Run once.
func (m *Mesh) Run(ctx context.Context) error {
	joinTimer := time.NewTimer(0)
	defer joinTimer.Stop()
	reap := time.NewTicker(max(m.cfg.TombstoneTTL/10, time.Second))
	defer reap.Stop()
	for {
		select {
		case <-ctx.Done():
			if m.stayOnStop.Load() {
				return m.stopStaying()
			}
			return m.leave()
		case <-joinTimer.C:
			joinTimer.Reset(m.joinDue(ctx, m.targets.snapshot(), time.Now()))
		case <-m.targets.wake:
			resetTargets(m.targets.snapshot(), time.Now())
			joinTimer.Reset(0)
		case now := <-reap.C:
			m.reap(now)
		}
	}
}

// joinTarget is one configured peer address and its retry schedule.
type joinTarget struct {
	addr  string // host:port
	delay time.Duration
	next  time.Time
}

// joinDue tries every target that is due and returns the wait until the
// next one is.
func (m *Mesh) joinDue(ctx context.Context, targets []*joinTarget, now time.Time) time.Duration {
	wait := joinRetryMax
	for _, t := range targets {
		if ctx.Err() != nil {
			return wait
		}
		if !t.next.After(now) {
			m.tryJoin(ctx, t)
		}
		wait = min(wait, max(time.Until(t.next), 10*time.Millisecond))
	}
	return wait
}

func (m *Mesh) tryJoin(ctx context.Context, t *joinTarget) {
	if m.isMember(ctx, t.addr) {
		t.delay, t.next = joinRetryMin, time.Now().Add(memberCheck)
		return
	}
	n, err := m.list.Join([]string{t.addr})
	if err == nil && n > 0 {
		t.delay, t.next = joinRetryMin, time.Now().Add(memberCheck)
		if !m.isMember(ctx, t.addr) {
			// Another name for this host, or a proxy: joining worked but
			// no member has that address. Do not push/pull with it often.
			t.next = time.Now().Add(joinRetryMax)
		}
		m.log.Info("joined peer", "peer_addr", t.addr, "members", m.Members())
		return
	}
	retry := t.delay + rand.N(t.delay/4+1)
	t.next = time.Now().Add(retry)
	t.delay = min(2*t.delay, joinRetryMax)
	if err != nil && isDecryptFailure(err.Error()) {
		m.log.Error("could not join "+t.addr+": gossip could not be decrypted: "+passwordHint,
			"peer_addr", t.addr, "retry_in", retry.Round(time.Millisecond), "error", err)
		return
	}
	m.log.Warn("could not join peer; will retry", "peer_addr", t.addr,
		"retry_in", retry.Round(time.Millisecond), "error", err)
}

// isMember reports whether addr is this peer or a live member's address.
func (m *Mesh) isMember(ctx context.Context, addr string) bool {
	host, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	ctx, cancel := context.WithTimeout(ctx, resolveLimit)
	defer cancel()
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return false
	}
	for _, ip := range ips {
		if m.peers.hasAddr(ipconv.Addr(ip.IP), port) {
			return true
		}
	}
	return false
}

// reap drops expired tombstones and peers gone for longer than
// TombstoneTTL, and bounds the gossip queue.
func (m *Mesh) reap(now time.Time) {
	if n := m.store.reap(now); n > 0 {
		m.stats.reaped.Add(uint64(n))
		m.log.Debug("tombstones reaped", "count", n)
	}
	if n := m.queue.NumQueued(); n > maxQueuedBroadcasts {
		m.queue.Prune(maxQueuedBroadcasts)
		m.stats.pruned.Add(uint64(n - maxQueuedBroadcasts))
		m.log.Warn("gossip queue over its bound; oldest broadcasts dropped, push/pull will repair",
			"dropped", n-maxQueuedBroadcasts)
	}
	for _, name := range m.peers.forget(now, m.cfg.TombstoneTTL) {
		m.log.Debug("peer forgotten", "peer", name)
	}
}

// leave tells the others this peer is leaving (so they list it as left,
// not dead), waits for memberlist's leave message to go out, and shuts
// down.
func (m *Mesh) leave() error {
	var errs []error
	m.lifeMu.Lock()
	if m.closed { // Close already stopped gossip; memberlist cannot leave now
		m.lifeMu.Unlock()
		return nil
	}
	// lifeMu is held across Leave so that a concurrent Close waits for
	// it; no memberlist callback takes lifeMu.
	m.sayBye()
	if err := m.list.Leave(leaveTimeout); err != nil {
		errs = append(errs, fmt.Errorf("leave cluster as peer %s: %w", m.name, err))
	}
	m.lifeMu.Unlock()
	if err := m.Close(); err != nil {
		errs = append(errs, err)
	}
	m.log.Info("mesh stopped", "peer", m.name)
	return errors.Join(errs...)
}

// sayBye sends a bye to every member directly over UDP and queues it for
// gossip, so that at least one copy very likely arrives before or with
// memberlist's leave message. A bye that is lost only makes the others
// list this peer as dead instead of left.
func (m *Mesh) sayBye() {
	msg := encodeBye(m.name)
	m.stats.queued.Add(1)
	m.queue.QueueBroadcast(&broadcast{name: "bye\x00" + m.name, msg: msg})
	targets := m.otherMembers()
	for i := range targets {
		_ = m.list.SendBestEffort(&targets[i], msg) // best effort by design
	}
}

// peerAddr normalises "host[:port]" to "host:port" with DefaultPort.
func peerAddr(s string) (string, error) {
	s = strings.TrimSpace(s)
	if host, port, err := net.SplitHostPort(s); err == nil {
		p, err := strconv.Atoi(port)
		if err != nil || p < 1 || p > 65535 || host == "" {
			return "", fmt.Errorf("bad host or port in %q", s)
		}
		return net.JoinHostPort(host, port), nil
	}
	host := strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if host == "" || strings.ContainsAny(host, "[] /") {
		return "", fmt.Errorf("bad address %q", s)
	}
	return net.JoinHostPort(host, strconv.Itoa(DefaultPort)), nil
}
