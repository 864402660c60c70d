package reconcile

import (
	"context"
	"errors"
	"maps"
	"strconv"
	"time"

	"github.com/weavego/weavego/driver"
	"github.com/weavego/weavego/internal/dockerapi"
	"github.com/weavego/weavego/internal/record"
)

// syncNetworks publishes networks the user created here, creates networks
// defined elsewhere, and removes networks removed elsewhere or superseded by
// a concurrent definition elsewhere (where no container is attached).
func (a *Agent) syncNetworks(ctx context.Context, plugin string, local []dockerapi.Network) {
	have := map[string]dockerapi.Network{}
	nets := a.snapshot().networks
	for _, n := range local {
		have[n.Name] = n
		if rec, ok := nets[n.ID]; ok { // else not (yet) seen by the driver
			a.syncLocalNetwork(ctx, n, rec)
		}
	}
	deleting := deletingVNIs(nets, local)
	check := hostCheck{a: a}
	refused := map[string]string{}
	a.migrateEncrypted()
	for _, e := range a.netDefs() {
		def, err := record.Strict[NetDef](e.Value)
		if err == nil {
			err = checkNetDef(e.Key, def)
		}
		if err != nil {
			a.warnOnce("net/"+e.Key, "ignoring an invalid network definition", "network", e.Key, "owner", e.Owner, "err", err)
			continue
		}
		if _, ok := have[def.Name]; ok {
			continue
		}
		if deleting[def.VNI] {
			// Docker is removing this host's network of that VNI: it lists the
			// network no more but has not yet called DeleteNetwork. Creating it
			// again now would undo a `docker network rm`; the driver's
			// DeleteNetwork kicks another pass, which sees the outcome.
			continue
		}
		if r, ok := check.refuses(def); ok {
			refused[def.Name] = "subnet overlaps this host's " + r.String()
			a.warnOnce("net/"+e.Key, "network refused on this host: its subnet overlaps this host's own address or route",
				"network", def.Name, "subnet", def.Subnet, "owner", e.Owner, "origin", def.Origin, "overlaps", r.String())
			continue
		}
		if err := a.createReplica(ctx, plugin, def); errors.Is(err, dockerapi.ErrNoIPv6Only) {
			refused[def.Name] = dockerapi.ErrNoIPv6Only.Error()
		}
	}
	a.mu.Lock()
	a.refused = refused
	a.mu.Unlock()
}

// deletingVNIs returns the VNIs of the networks the driver has and Docker no
// longer lists. Docker hides a network as soon as a removal starts, then
// releases its pool and only then calls the driver's DeleteNetwork.
func deletingVNIs(nets map[string]driver.Network, local []dockerapi.Network) map[uint32]bool {
	listed := map[string]bool{}
	for _, n := range local {
		listed[n.ID] = true
	}
	out := map[uint32]bool{}
	for id, rec := range nets {
		if !listed[id] {
			out[rec.VNI] = true
		}
	}
	return out
}

// syncLocalNetwork handles one local network, n as Docker and rec as the
// driver knows it, against its cluster entry.
func (a *Agent) syncLocalNetwork(ctx context.Context, n dockerapi.Network, rec driver.Network) {
	a.mu.Lock()
	fresh := a.fresh[n.ID]
	a.mu.Unlock()
	e, exists := a.netDef(n.Name)
	def, _ := record.Decode[NetDef](e.Value)
	encrypted := driver.Encrypted(rec.Options)
	switch {
	case !fresh && !exists && !a.mayRepublish(rec):
		if a.settled() {
			a.removeLocal(ctx, n, "its definition is gone from the cluster: it was removed while this host was away")
		}
	case fresh || !exists:
		if exists && !e.Deleted && def.same(rec.Key(), rec.VNI, encrypted) {
			break
		}
		def := NetDef{Name: n.Name, Subnet: rec.Subnet, Gateway: rec.Gateway, IPRange: n.IPRange, VNI: rec.VNI,
			MTU: rec.MTU, Internal: rec.Internal, Options: publicOptions(rec.Options), Origin: a.rep.LocalName(),
			Subnet6: rec.Subnet6, Gateway6: rec.Gateway6, IPRange6: n.IPRange6}
		a.setNetDef(def)
		a.log.Info("network published to the cluster", "network", n.Name, "subnet", def.Subnet, "subnet6", def.Subnet6,
			"vni", def.VNI)
	case e.Deleted:
		a.removeLocal(ctx, n, "it was removed on another host")
	case !def.same(rec.Key(), rec.VNI, encrypted):
		a.removeLocal(ctx, n, "host "+def.Origin+" defined it at the same time with subnet "+def.key().String()+
			" and VNI "+strconv.Itoa(int(def.VNI))+", and that definition won")
	}
	a.mu.Lock()
	delete(a.fresh, n.ID)
	a.mu.Unlock()
}

// mayRepublish tells whether this host may publish again a local network
// the cluster has no record of: only the host that defined it, and only if
// its saved state was fresh (a stale one means the network may have been
// removed while this host was away).
func (a *Agent) mayRepublish(rec driver.Network) bool {
	return rec.Options[OptReplica] == "" && !a.cfg.StaleState
}

// settled tells whether the agent has had time to learn the cluster's state
// from another live host since it started.
func (a *Agent) settled() bool {
	if time.Since(a.started) < a.cfg.Settle {
		return false
	}
	self := a.rep.LocalName()
	for _, p := range a.rep.Peers() {
		if p.Name != self && a.rep.Alive(p.Name) {
			return true
		}
	}
	return false
}

// removeLocal removes a local network the cluster no longer has, unless
// containers are attached: then it stays until they leave, and says so.
func (a *Agent) removeLocal(ctx context.Context, n dockerapi.Network, why string) {
	if len(n.Containers) > 0 {
		a.log.Warn("network stays on this host while containers are attached", "network", n.Name,
			"reason", why, "containers", len(n.Containers))
		return
	}
	a.mu.Lock()
	a.removing[n.ID] = true
	a.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if err := a.docker.RemoveNetwork(cctx, n.ID); err != nil {
		a.log.Warn("remove network", "network", n.Name, "err", err)
		a.mu.Lock()
		delete(a.removing, n.ID)
		a.mu.Unlock()
		return
	}
	a.log.Info("network removed on this host", "network", n.Name, "reason", why)
}

// createReplica creates on this host a network defined elsewhere. An
// engine that cannot make it (ErrNoIPv6Only) is not asked again soon.
func (a *Agent) createReplica(ctx context.Context, plugin string, def NetDef) error {
	opts := maps.Clone(def.Options)
	if opts == nil {
		opts = map[string]string{}
	}
	opts["vni"] = strconv.FormatUint(uint64(def.VNI), 10)
	opts[OptReplica] = def.Origin
	if def.MTU != 0 {
		opts["com.docker.network.driver.mtu"] = strconv.Itoa(def.MTU)
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	_, err := a.docker.CreateNetwork(cctx, dockerapi.Network{Name: def.Name, Driver: plugin, IPAMDriver: plugin,
		Subnet: def.Subnet, Gateway: def.Gateway, IPRange: def.IPRange, Internal: def.Internal, Options: opts,
		Subnet6: def.Subnet6, Gateway6: def.Gateway6, IPRange6: def.IPRange6})
	if errors.Is(err, dockerapi.ErrNoIPv6Only) {
		a.warnOnce("net/"+def.Name, "network refused on this host", "network", def.Name, "origin", def.Origin, "err", err)
		return err
	}
	if err != nil {
		a.mu.Lock()
		a.retrySoon = true
		a.mu.Unlock()
		a.log.Warn("create network defined on another host", "network", def.Name, "origin", def.Origin, "err", err)
		return err
	}
	a.log.Info("network created from the cluster definition", "network", def.Name, "origin", def.Origin,
		"subnet", def.Subnet, "subnet6", def.Subnet6, "vni", def.VNI)
	return nil
}

// publicOptions drops the options the agent adds itself.
func publicOptions(opts map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range opts {
		switch k {
		case OptReplica, "vni", "com.docker.network.driver.mtu":
		default:
			out[k] = v
		}
	}
	return out
}
