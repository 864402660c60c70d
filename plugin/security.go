package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"

	"github.com/weavego/weavego/internal/statefile"
	"github.com/weavego/weavego/mesh"
	"github.com/weavego/weavego/plugin/settings"
	"github.com/weavego/weavego/reconcile"
)

// gossipKeys resolves the gossip keyring at start from the settings and the
// ring saved in STATE_DIR, saves it when it changed, and logs what it did.
// fromCluster says whether the saved state holds entries of other hosts:
// this host was a member of a cluster before.
func gossipKeys(set settings.Settings, fromCluster bool, log *slog.Logger) (keyPlan, error) {
	src := keySource{key: set.Key, open: set.InsecureOpen, joining: len(set.Peers) > 0 || fromCluster}
	path := filepath.Join(set.StateDir, keyringFile)
	saved, err := loadKeyring(path)
	if err != nil {
		return keyPlan{}, err
	}
	if set.Password != "" {
		src.key, src.password = passwordKey(set.Password), true
		if fromCluster && len(saved) == 0 {
			src.legacy = legacyPasswordKey(set.Password)
		}
	}
	src.generated = loadGenerated(filepath.Join(set.StateDir, generatedFile))
	plan, err := resolveKeys(src, saved, newKey)
	if err != nil {
		return keyPlan{}, err
	}
	if plan.save {
		if err := saveKeyring(path, plan.keys); err != nil {
			return keyPlan{}, err
		}
	}
	if err := recordGenerated(filepath.Join(set.StateDir, generatedFile), plan); err != nil {
		return keyPlan{}, err
	}
	if src.legacy != nil {
		log.Warn("upgraded from a weavego that derived the gossip key from PASSWORD with SHA-256: that key stays "+
			"primary so that hosts not yet upgraded understand this one; once every host is upgraded, run "+
			"`weavego key list`, `weavego key use` with the second key, then `weavego key remove` the first, on "+
			"every host (docs/keys.md)", "keyring", path)
	}
	if plan.promoted {
		log.Info("KEY replaces the key this host generated for itself as the primary key (that one stays "+
			"installed for receiving until removed)", "keyring", path)
	}
	switch {
	case plan.mode == modeOpen:
		log.Warn(fmt.Sprintf("cluster is open: anyone who can reach port %d can join and write state", set.GossipPort),
			"setting", "INSECURE_OPEN=true")
	case plan.generated:
		log.Info("generated a new cluster key; run `weavego token` on this host and give it to other hosts as KEY=...",
			"keyring", path)
	case plan.save:
		log.Info("cluster key from the settings installed", "keys", len(plan.keys), "keyring", path)
	}
	if set.KeyRollout != "" {
		log.Warn("KEY_ROLLOUT is set: plain gossip from hosts without the key is still accepted; "+
			"clear it once every host has the key (docs/keys.md)", "key_rollout", set.KeyRollout)
	}
	for _, name := range set.Obsolete {
		log.Info("setting "+name+" is no longer used and is ignored: the control API is the unix socket "+
			controlSocket+" in the state directory", "setting", name)
	}
	return plan, nil
}

// startMesh resolves the gossip keys and starts the mesh bound to vtep,
// with the state saved by the last run.
func (p *parts) startMesh(name string, vtep netip.Addr) error {
	set := p.set
	plan, err := gossipKeys(set, mesh.SavedFromOthers(p.store.For(statefile.OwnerMesh), name), p.log)
	if err != nil {
		return err
	}
	p.sec = securityStatus(set, plan, vtep)
	p.mesh, err = mesh.New(mesh.Config{Name: name, BindAddr: vtep.String(), BindPort: set.GossipPort,
		AdvertiseAddr: vtep, Peers: p.startPeers(), Keys: plan.keys, KeyRollout: mesh.Rollout(set.KeyRollout),
		Logger: p.log, Validators: entryValidators(), TombstoneTTL: set.TombstoneTTL})
	if err != nil {
		return fmt.Errorf("start gossip on %s: %w", p.sec.GossipAddr, err)
	}
	p.staleState = p.mesh.RestoreSaved(p.store.For(statefile.OwnerMesh), reconcile.KindNetwork)
	return nil
}

// securityStatus is the part of the status report fixed at start.
func securityStatus(set settings.Settings, plan keyPlan, vtep netip.Addr) SecurityStatus {
	return SecurityStatus{
		Mode:          plan.mode,
		Rollout:       set.KeyRollout,
		GossipAddr:    net.JoinHostPort(vtep.String(), strconv.Itoa(set.GossipPort)),
		ControlSocket: filepath.Join(set.StateDir, controlSocket),
	}
}

// control wires the control API to the running parts.
func (p *parts) control() *control {
	c := &control{
		report:  p.report,
		known:   p.knownHost,
		rmpeer:  func(ctx context.Context, host string) error { return p.alloc.RemovePeer(ctx, host) },
		connect: p.connectPeer,
		forget:  p.forgetPeer,
		saveRing: func(keys [][]byte) error {
			return saveKeyring(filepath.Join(p.set.StateDir, keyringFile), keys)
		},
		metrics: p.metrics.Handler(p.log),
		log:     p.log,
	}
	if p.mesh.Encrypted() {
		c.keys = p.mesh
	}
	return c
}

// knownHost reports whether host is in the mesh's peer table or holds
// address space in a pool.
func (p *parts) knownHost(host string) bool {
	for _, peer := range p.mesh.Peers() {
		if peer.Name == host {
			return true
		}
	}
	for _, pool := range p.alloc.Status().Pools {
		for _, h := range pool.Hosts {
			if h.Host == host {
				return true
			}
		}
	}
	return false
}
