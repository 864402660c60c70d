package mesh

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// joinTargets are the addresses Run joins and keeps joined: the configured
// peers plus those added at run time by Connect, minus those Forget drops.
type joinTargets struct {
	// mu guards list. The targets' retry fields are read and written only
	// by Run's goroutine.
	mu   sync.Mutex
	list []*joinTarget
	wake chan struct{} // signalled when Run should try the targets now
}

func newJoinTargets(addrs []string) *joinTargets {
	j := &joinTargets{wake: make(chan struct{}, 1)}
	for _, a := range addrs {
		j.add(a)
	}
	return j
}

// add adds addr (already host:port) unless present; it reports whether it
// was new.
func (j *joinTargets) add(addr string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if slices.ContainsFunc(j.list, func(t *joinTarget) bool { return t.addr == addr }) {
		return false
	}
	j.list = append(j.list, &joinTarget{addr: addr, delay: joinRetryMin})
	return true
}

// remove drops addr; it reports whether it was there.
func (j *joinTargets) remove(addr string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	n := len(j.list)
	j.list = slices.DeleteFunc(j.list, func(t *joinTarget) bool { return t.addr == addr })
	return len(j.list) != n
}

// snapshot returns the current targets; the slice is the caller's.
func (j *joinTargets) snapshot() []*joinTarget {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.list)
}

func (j *joinTargets) addrs() []string {
	var out []string
	for _, t := range j.snapshot() {
		out = append(out, t.addr)
	}
	return out
}

func (j *joinTargets) kick() {
	select {
	case j.wake <- struct{}{}:
	default:
	}
}

// NormalizePeer turns "host[:port]" into "host:port" with the default
// gossip port, as PEERS, Connect and Forget take it.
func NormalizePeer(s string) (string, error) { return peerAddr(s) }

// JoinTargets returns the addresses this mesh joins and keeps joined.
func (m *Mesh) JoinTargets() []string { return m.targets.addrs() }

// Connect adds peer ("host[:port]") to the addresses this mesh joins and
// keeps joined, then tries to join it at once, waiting at most until ctx
// ends. It returns the normalised address; an error says the join failed
// this time (the address stays a target and is retried like a configured
// peer) or that the address is malformed.
func (m *Mesh) Connect(ctx context.Context, peer string) (string, error) {
	addr, err := peerAddr(peer)
	if err != nil {
		return "", err
	}
	m.targets.add(addr)
	m.targets.kick()
	if m.isMember(ctx, addr) {
		return addr, nil
	}
	done := make(chan error, 1)
	go func() {
		_, err := m.list.Join([]string{addr})
		done <- err
	}()
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		return addr, fmt.Errorf("join %s: %w", addr, err)
	}
	m.log.Info("joined peer on request", "peer_addr", addr, "members", m.Members())
	return addr, nil
}

// Forget removes peer ("host[:port]") from the addresses this mesh joins.
// A member stays a member until it leaves or fails; forgetting only stops
// the retries. It reports whether the address was a target.
func (m *Mesh) Forget(peer string) (string, bool, error) {
	addr, err := peerAddr(peer)
	if err != nil {
		return "", false, err
	}
	return addr, m.targets.remove(addr), nil
}

// resetTargets makes every target due now (after Connect).
func resetTargets(targets []*joinTarget, now time.Time) {
	for _, t := range targets {
		t.delay, t.next = joinRetryMin, now
	}
}

// normalizedPeers normalises configured peers (validated by New).
func normalizedPeers(peers []string) []string {
	out := make([]string, 0, len(peers))
	for _, p := range peers {
		if addr, err := peerAddr(p); err == nil {
			out = append(out, addr)
		}
	}
	return out
}
