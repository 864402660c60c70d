package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/weavego/weavego/mesh"
	"github.com/weavego/weavego/store"
)

const (
	bucketMeta = "plugin"
	keyPeer    = "peer-name"
	bucketMesh = "mesh.snapshot"
	keyMesh    = "entries"
)

// peerName returns this host's stable peer name, made once from the host
// name and a random suffix and kept in the state file.
func peerName(s *store.Store) (string, error) {
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
// restarted host remembers deletions it saw and does not resurrect them.
func restoreMesh(s *store.Store, m *mesh.Mesh, log *slog.Logger) {
	var entries []mesh.Entry
	if ok, err := s.Get(bucketMesh, keyMesh, &entries); err != nil {
		log.Warn("saved gossip state is unreadable; starting without it", "err", err)
	} else if ok {
		m.Restore(entries)
		log.Info("gossip state restored", "entries", len(entries))
	}
}

func saveMesh(s *store.Store, m *mesh.Mesh, log *slog.Logger) {
	if err := s.Put(bucketMesh, keyMesh, m.Snapshot()); err != nil {
		log.Warn("save gossip state", "err", err)
	}
}

// saveMeshLoop saves the replicated state after changes, at most every 2 s.
func (p *parts) saveMeshLoop(ctx context.Context) {
	changes, unsubscribe := p.mesh.Subscribe()
	defer unsubscribe()
	for {
		select {
		case <-ctx.Done():
			return
		case <-changes:
		}
		saveMesh(p.store, p.mesh, p.log)
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
}

func ipOf(a netip.Addr) net.IP { return net.IP(a.AsSlice()) }

// savedFromCluster reports whether the replicated state saved by the last
// run holds entries written by hosts other than self: this host has been a
// member of a cluster.
func savedFromCluster(s *store.Store, self string) bool {
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
