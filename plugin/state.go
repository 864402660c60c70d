package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/weavego/weavego/internal/statefile"
	"github.com/weavego/weavego/mesh"
	"github.com/weavego/weavego/reconcile"
)

const (
	bucketMeta = "plugin"
	keyPeer    = "peer-name"
	bucketMesh = "mesh.snapshot"
	keyMesh    = "entries"
	keySavedAt = "saved-at"
)

// peerName returns this host's stable peer name, made once from the host
// name and a random suffix and kept in the state file.
func peerName(s *statefile.Store) (string, error) {
	var name string
	ok, err := s.Get(bucketMeta, keyPeer, &name)
	if err != nil {
		return "", fmt.Errorf("read peer name: %w", err)
	}
	if ok && name != "" {
		return name, nil
	}
	host, _ := os.Hostname()
	host = strings.Split(host, ".")[0]
	if host == "" {
		host = "weavego"
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	name = host + "-" + hex.EncodeToString(b)
	if err := s.Put(bucketMeta, keyPeer, name); err != nil {
		return "", fmt.Errorf("record peer name: %w", err)
	}
	return name, nil
}

// restoreMesh loads the replicated state saved by the last run, so that a
// restarted host remembers deletions it saw and does not resurrect them. A
// state saved longer than ttl ago is stale: the others have forgotten what
// was deleted since, so its network definitions are left out (the cluster
// supplies the live ones) rather than spread again.
func restoreMesh(s *statefile.Store, m *mesh.Mesh, ttl time.Duration, log *slog.Logger) (stale bool) {
	var entries []mesh.Entry
	ok, err := s.Get(bucketMesh, keyMesh, &entries)
	if err != nil {
		log.Warn("saved gossip state is unreadable; starting without it", "err", err)
		return false
	}
	if !ok {
		return false
	}
	var savedAt time.Time
	if _, err := s.Get(bucketMesh, keySavedAt, &savedAt); err == nil && !savedAt.IsZero() && time.Since(savedAt) > ttl {
		stale = true
		entries = slices.DeleteFunc(entries, func(e mesh.Entry) bool { return e.Kind == reconcile.KindNetwork })
		log.Warn("saved gossip state is older than the tombstone lifetime; network definitions left out, "+
			"networks removed meanwhile will be removed here", "saved", savedAt.Format(time.RFC3339))
	}
	m.Restore(entries)
	log.Info("gossip state restored", "entries", len(entries))
	return stale
}

func saveMesh(s *statefile.Store, m *mesh.Mesh, log *slog.Logger) {
	if err := s.Put(bucketMesh, keyMesh, m.Snapshot()); err != nil {
		log.Warn("save gossip state; the last saved state is kept", "err", err)
		return
	}
	if err := s.Put(bucketMesh, keySavedAt, time.Now().UTC()); err != nil {
		log.Warn("save gossip state time", "err", err)
	}
}

// saveMeshLoop saves the replicated state after changes, at most every 2 s,
// and at least once a minute (half the tombstone lifetime if shorter), so its time tells how long this host was away.
func (p *parts) saveMeshLoop(ctx context.Context) {
	changes, unsubscribe := p.mesh.Subscribe()
	defer unsubscribe()
	tick := time.NewTicker(min(time.Minute, max(p.set.TombstoneTTL/2, time.Second)))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-changes:
		case <-tick.C:
		}
		saveMesh(p.store, p.mesh, p.log)
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
}

// savedFromCluster reports whether the replicated state saved by the last
// run holds entries written by hosts other than self: this host has been a
// member of a cluster.
func savedFromCluster(s *statefile.Store, self string) bool {
	var entries []mesh.Entry
	if ok, err := s.Get(bucketMesh, keyMesh, &entries); err != nil || !ok {
		return false
	}
	for _, e := range entries {
		if e.Owner != self {
			return true
		}
	}
	return false
}
