package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"

	"github.com/weavego/weavego/internal/statefile"
	"github.com/weavego/weavego/mesh"
	"github.com/weavego/weavego/plugin/control"
	"github.com/weavego/weavego/plugin/keyring"
	"github.com/weavego/weavego/plugin/settings"
	"github.com/weavego/weavego/plugin/status"
	"github.com/weavego/weavego/reconcile"
)

// gossipKeys resolves the gossip keyring at start from the settings and the
// ring saved in STATE_DIR, saves it when it changed, and logs what it did.
// fromCluster says whether the saved state holds entries of other hosts:
// this host was a member of a cluster before. A key this host cannot start
// with is a refusal (see refuse).
func gossipKeys(set settings.Settings, fromCluster bool, log *slog.Logger) (keyring.Plan, error) {
	src := keyring.Source{Key: set.Key, Open: set.InsecureOpen, Joining: len(set.Peers) > 0 || fromCluster}
	path := filepath.Join(set.StateDir, keyring.RingFile)
	saved, err := keyring.LoadRing(path)
	if err != nil {
		return keyring.Plan{}, refusal{err}
	}
	hist := keyring.HistoryStore{Dir: set.StateDir}
	h, err := hist.Load()
	if err != nil {
		return keyring.Plan{}, refusal{err}
	}
	if set.Password != "" {
		src.Key, src.Password = keyring.FromPassword(set.Password), true
		if fromCluster && len(saved) == 0 {
			src.Legacy = keyring.LegacyFromPassword(set.Password)
		}
	}
	if err := refuseRemoved(src, h); err != nil {
		return keyring.Plan{}, err
	}
	src.Generated = keyring.LoadGenerated(filepath.Join(set.StateDir, keyring.GeneratedFile))
	plan, err := keyring.Resolve(src, saved, keyring.New)
	if err != nil {
		return keyring.Plan{}, refusal{err}
	}
	if plan.Save {
		if err := keyring.SaveRing(path, plan.Keys); err != nil {
			return keyring.Plan{}, err
		}
	}
	if err := keyring.RecordGenerated(filepath.Join(set.StateDir, keyring.GeneratedFile), plan); err != nil {
		return keyring.Plan{}, err
	}
	if plan.Legacy, err = noteLegacy(hist, h, set.Password, plan.Keys); err != nil {
		return keyring.Plan{}, err
	}
	if plan.Legacy != "" && len(plan.Keys) > 0 && keyring.Fingerprint(plan.Keys[0]) == plan.Legacy {
		plan.Mode = keyring.ModeLegacy
	}
	logKeys(set, plan, path, log)
	return plan, nil
}

// refuseRemoved refuses a KEY, or a PASSWORD's key, that was removed from
// this host with `weavego key remove`: installing it again at start would
// silently undo a rotation made because that key leaked.
// refusal is a reason not to start that the settings or the saved keys
// give: the plugin then serves the reason where the user types (see
// refuse) instead of exiting with it.
type refusal struct{ err error }

func (r refusal) Error() string { return r.err.Error() }
func (r refusal) Unwrap() error { return r.err }

func refuseRemoved(src keyring.Source, h keyring.History) error {
	if src.Key == nil {
		return nil
	}
	at, ok := h.RemovedAt(src.Key)
	if !ok {
		return nil
	}
	name, was := "KEY", "holds"
	if src.Password {
		name, was = "PASSWORD", "derives"
	}
	return refusal{fmt.Errorf("setting %s %s a cluster key that was removed from this host with `weavego key remove` "+
		"on %s, so it is not installed again: clear the setting (docker plugin disable weavego; docker plugin set "+
		"weavego %s=; docker plugin enable weavego); this host keeps its saved keys (`weavego key install` them "+
		"from standard input, docs/keys.md)", name, was, at.Format("2006-01-02 15:04 UTC"), name)}
}

// noteLegacy returns the keyring.Fingerprint of the unsalted key an older weavego
// derived from PASSWORD, recording it when this start finds it in keys (an
// upgrade, now or by a version that did not record it), so that it is
// still known after PASSWORD is cleared.
func noteLegacy(hist keyring.HistoryStore, h keyring.History, password string, keys [][]byte) (string, error) {
	if password == "" {
		return h.Legacy, nil
	}
	legacy := keyring.LegacyFromPassword(password)
	if !keyring.Contains(keys, legacy) || h.Legacy == keyring.Fingerprint(legacy) {
		return h.Legacy, nil
	}
	fp := keyring.Fingerprint(legacy)
	return fp, hist.Change(func(h *keyring.History) { h.Legacy = fp })
}

// logKeys says at start what gossipKeys did, and what is wrong.
func logKeys(set settings.Settings, plan keyring.Plan, path string, log *slog.Logger) {
	if plan.Mode == keyring.ModeLegacy {
		log.Warn(status.LegacyKeyProblem().What+"; "+status.LegacyKeyProblem().Fix, "keyring", path)
	}
	if plan.Promoted {
		log.Info("KEY replaces the key this host generated for itself as the primary key (that one stays "+
			"installed for receiving until removed)", "keyring", path)
	}
	switch {
	case plan.Mode == keyring.ModeOpen:
		log.Warn(fmt.Sprintf("cluster is open: anyone who can reach port %d can join and write state", set.GossipPort),
			"setting", "INSECURE_OPEN=true")
	case plan.Generated:
		log.Info("generated a new cluster key; run `weavego token` on this host and give it to other hosts "+
			"(`weavego key install` there reads it from standard input)", "keyring", path)
	case plan.Save:
		log.Info("cluster key from the settings installed", "keys", len(plan.Keys), "keyring", path)
	}
	if set.KeyRollout != "" {
		log.Warn("KEY_ROLLOUT is set: plain gossip from hosts without the key is still accepted; "+
			"clear it once every host has the key (docs/keys.md)", "key_rollout", set.KeyRollout)
	}
	for _, name := range set.Obsolete {
		log.Info("setting "+name+" is no longer used and is ignored: the control API is the unix socket "+
			control.SocketName+" in the state directory", "setting", name)
	}
}

// startMesh resolves the gossip keys and starts the mesh bound to vtep,
// with the state saved by the last run.
func (p *parts) startMesh(name string, vtep netip.Addr) error {
	set := p.set
	plan, err := gossipKeys(set, mesh.SavedFromOthers(p.store.For(statefile.OwnerMesh), name), p.log)
	if err != nil {
		return err
	}
	p.sec, p.legacyKey = securityStatus(set, plan, vtep), plan.Legacy
	p.mesh, err = mesh.New(mesh.Config{Name: name, BindAddr: vtep.String(), BindPort: set.GossipPort,
		AdvertiseAddr: vtep, Peers: p.startPeers(), Keys: plan.Keys, KeyRollout: mesh.Rollout(set.KeyRollout),
		Logger: p.log, Validators: entryValidators(), TombstoneTTL: set.TombstoneTTL})
	if err != nil {
		return fmt.Errorf("start gossip on %s: %w", p.sec.GossipAddr, err)
	}
	p.staleState = p.mesh.RestoreSaved(p.store.For(statefile.OwnerMesh), reconcile.NetworkKinds()...)
	return nil
}

// securityStatus is the part of the status report fixed at start.
func securityStatus(set settings.Settings, plan keyring.Plan, vtep netip.Addr) status.Security {
	return status.Security{
		Mode:          plan.Mode,
		Rollout:       set.KeyRollout,
		GossipAddr:    net.JoinHostPort(vtep.String(), strconv.Itoa(set.GossipPort)),
		ControlSocket: filepath.Join(set.StateDir, control.SocketName),
	}
}
