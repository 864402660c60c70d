package mesh

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/weavego/weavego/internal/statefile"
)

// What the mesh keeps in the state file, in its own buckets (see
// internal/statefile): this host's peer name, the peers added at run time,
// and the replicated map with the time it was saved.
const (
	keyPeerName   = "peer-name"
	keyJoinPeers  = "runtime-peers"
	keySnapshot   = "entries"
	keySavedAt    = "saved-at"
	keyWrites     = "writes"
	saveMinPeriod = 2 * time.Second
)

// Saved is the mesh's part of the state file: statefile's Access for
// statefile.OwnerMesh.
type Saved interface {
	Get(bucket, key string, v any) (bool, error)
	Put(bucket, key string, v any) error
}

// LoadOrMakeName returns this host's peer name: the saved one, or one made
// from hostname and a random suffix, saved for every later start.
func LoadOrMakeName(s Saved, hostname string) (string, error) {
	var name string
	ok, err := s.Get(statefile.MeshPeer, keyPeerName, &name)
	if err != nil {
		return "", fmt.Errorf("read peer name: %w", err)
	}
	if ok && name != "" {
		return name, nil
	}
	host := strings.Split(hostname, ".")[0]
	if host == "" {
		host = "weavego"
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	name = host + "-" + hex.EncodeToString(b)
	if err := s.Put(statefile.MeshPeer, keyPeerName, name); err != nil {
		return "", fmt.Errorf("record peer name: %w", err)
	}
	return name, nil
}

// SavedPeers is the list of peers added at run time (`weavego connect`),
// kept so that they are joined again after a restart.
type SavedPeers struct {
	s Saved
	// mu serialises read-modify-write of the saved list.
	mu sync.Mutex
}

// NewSavedPeers returns the saved list in s.
func NewSavedPeers(s Saved) *SavedPeers { return &SavedPeers{s: s} }

// Load returns the saved list.
func (p *SavedPeers) Load() ([]string, error) {
	var list []string
	if _, err := p.s.Get(statefile.MeshPeer, keyJoinPeers, &list); err != nil {
		return nil, fmt.Errorf("read the peers added with weavego connect: %w", err)
	}
	return list, nil
}

// Change applies f to the saved list and saves the result.
func (p *SavedPeers) Change(f func([]string) []string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	list, err := p.Load()
	if err != nil {
		return err
	}
	if err := p.s.Put(statefile.MeshPeer, keyJoinPeers, f(list)); err != nil {
		return fmt.Errorf("save the peer list: %w", err)
	}
	return nil
}

// SavedFromOthers reports whether the map saved by the last run holds
// entries written by hosts other than self: this host has been a member of
// a cluster.
func SavedFromOthers(s Saved, self string) bool {
	var entries []Entry
	if ok, err := s.Get(statefile.MeshSnapshot, keySnapshot, &entries); err != nil || !ok {
		return false
	}
	return slices.ContainsFunc(entries, func(e Entry) bool { return e.Owner != self })
}

// RestoreSaved merges the map saved by the last run, so that a restarted
// host remembers the deletions it saw and does not bring them back. A map
// saved longer than TombstoneTTL ago is stale: the others have forgotten
// what was deleted since, so its entries of staleKinds are left out (the
// cluster supplies the live ones) rather than spread again.
func (m *Mesh) RestoreSaved(s Saved, staleKinds ...string) (stale bool) {
	var entries []Entry
	ok, err := s.Get(statefile.MeshSnapshot, keySnapshot, &entries)
	if err != nil {
		m.log.Warn("saved gossip state is unreadable; starting without it", "err", err)
		return false
	}
	if !ok {
		return false
	}
	var savedAt time.Time
	if _, err := s.Get(statefile.MeshSnapshot, keySavedAt, &savedAt); err == nil && !savedAt.IsZero() &&
		time.Since(savedAt) > m.cfg.TombstoneTTL {
		stale = true
		entries = slices.DeleteFunc(entries, func(e Entry) bool { return slices.Contains(staleKinds, e.Kind) })
		m.log.Warn("saved gossip state is older than the tombstone lifetime; kinds left out, "+
			"entries removed meanwhile will be removed here", "kinds", staleKinds, "saved", savedAt.Format(time.RFC3339))
	}
	var w savedWrites
	if _, err := s.Get(statefile.MeshSnapshot, keyWrites, &w); err != nil {
		m.log.Warn("saved write counter is unreadable; starting a new epoch above what the cluster shows", "err", err)
	}
	m.store.restoreWrites(w)
	m.Restore(entries)
	m.log.Info("gossip state restored", "entries", len(entries), "epoch", w.Epoch+1)
	return stale
}

// savedWrites is what the replay rule needs across a restart: the epoch of
// this peer's last run and its watermarks (seq.go, watermarks.go). They
// are saved with the map, so that both describe the same moment.
type savedWrites struct {
	Epoch   uint64            `json:"epoch"`
	Through map[string]uint64 `json:"through"`
}

// restoreWrites starts a new epoch above the saved one and restores the
// saved watermarks.
func (s *store) restoreWrites(w savedWrites) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq.startAfter(w.Epoch)
	// The saved watermarks include this peer's own from the last run:
	// above it are only writes of this run, so the rule is unchanged.
	s.marks.restore(w.Through)
	for _, r := range s.records {
		if r.e.Owner == s.self && r.e.Seq>>seqEpochShift > w.Epoch {
			s.seq.moveAbove(r.e.Seq)
		}
	}
}

// savedWrites returns what restoreWrites needs after a restart.
func (s *store) savedWrites() savedWrites {
	s.mu.Lock()
	defer s.mu.Unlock()
	return savedWrites{Epoch: s.seq.epoch, Through: s.marks.snapshot()}
}

// SaveTo saves the map, the write counter's epoch and watermarks, and the
// time; a failed save keeps the last one.
func (m *Mesh) SaveTo(s Saved) {
	// The watermarks are read before the map: they never vouch for more
	// than the saved map holds.
	w := m.store.savedWrites()
	if err := s.Put(statefile.MeshSnapshot, keySnapshot, m.Snapshot()); err != nil {
		m.log.Warn("save gossip state; the last saved state is kept", "err", err)
		return
	}
	if err := s.Put(statefile.MeshSnapshot, keyWrites, w); err != nil {
		m.log.Warn("save the write counter; the last saved one is kept", "err", err)
	}
	if err := s.Put(statefile.MeshSnapshot, keySavedAt, time.Now().UTC()); err != nil {
		m.log.Warn("save gossip state time", "err", err)
	}
}

// SaveLoop saves the map after changes, at most every 2 s, and at least
// once a minute (half the tombstone lifetime if shorter), so that the time
// saved tells how long this host was away, until ctx ends.
func (m *Mesh) SaveLoop(ctx context.Context, s Saved) {
	changes, unsubscribe := m.Subscribe()
	defer unsubscribe()
	tick := time.NewTicker(min(time.Minute, max(m.cfg.TombstoneTTL/2, time.Second)))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-changes:
		case <-tick.C:
		}
		m.SaveTo(s)
		select {
		case <-ctx.Done():
			return
		case <-time.After(saveMinPeriod):
		}
	}
}
