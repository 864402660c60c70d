package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"

	"github.com/weavego/weavego/mesh"
	"github.com/weavego/weavego/settings"
)

// gossipKeys resolves the gossip keyring at start from the settings and the
// ring saved in STATE_DIR, saves it when it changed, and logs what it did.
func gossipKeys(set settings.Settings, log *slog.Logger) (keyPlan, error) {
	src := keySource{key: set.Key, open: set.InsecureOpen, joining: len(set.Peers) > 0}
	if set.Password != "" {
		src.key, src.password = passwordKey(set.Password), true
	}
	path := filepath.Join(set.StateDir, keyringFile)
	saved, err := loadKeyring(path)
	if err != nil {
		return keyPlan{}, err
	}
	plan, err := resolveKeys(src, saved, newKey)
	if err != nil {
		return keyPlan{}, err
	}
	if plan.save {
		if err := saveKeyring(path, plan.keys); err != nil {
			return keyPlan{}, err
		}
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
	plan, err := gossipKeys(set, p.log)
	if err != nil {
		return err
	}
	p.sec = securityStatus(set, plan, vtep)
	p.mesh, err = mesh.New(mesh.Config{Name: name, BindAddr: vtep.String(), BindPort: set.GossipPort,
		AdvertiseAddr: ipOf(vtep), Peers: set.Peers, Keys: plan.keys, KeyRollout: mesh.Rollout(set.KeyRollout),
		Logger: p.log, Validators: entryValidators(), TombstoneTTL: set.TombstoneTTL})
	if err != nil {
		return fmt.Errorf("start gossip on %s: %w", p.sec.GossipAddr, err)
	}
	p.staleState = restoreMesh(p.store, p.mesh, set.TombstoneTTL, p.log)
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
		report: p.report,
		known:  p.knownHost,
		rmpeer: func(ctx context.Context, host string) error { return p.alloc.RemovePeer(ctx, host) },
		saveRing: func(keys [][]byte) error {
			return saveKeyring(filepath.Join(p.set.StateDir, keyringFile), keys)
		},
		log: p.log,
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
