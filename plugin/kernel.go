package main

import (
	"context"
	"time"
)

// The kernel side of the daemon's life: what it does to the datapath when it
// stops, and what it keeps in place while it runs.

// park moves the networks into the host namespace before the plugin stops
// (see datapath.Manager.Park): on SIGTERM Docker is stopping the plugin for
// good (disable, upgrade, dockerd stop) and unmounts the pins of their
// namespaces once it has exited. Any other exit leaves them pinned: Docker
// restarts the plugin without unmounting anything.
func (p *parts) park(by time.Time) {
	ctx, cancel := context.WithDeadline(context.Background(), by)
	defer cancel()
	start := time.Now()
	if err := p.dp.Park(ctx); err != nil {
		p.log.Warn("move networks into the host namespace", "err", err)
		return
	}
	p.log.Info("networks moved into the host namespace until the plugin runs again", "took", time.Since(start))
}

// removeFirewallIfIdle removes weavego's nftables rules when the plugin stops
// with no weavego network left in the kernel, so an uninstalled plugin
// leaves nothing behind. While networks remain (a restart, an upgrade, a
// disable with containers running), the rules stay: the VXLAN allowlist
// and the gossip and VXLAN drops on docker_gwbridge keep protecting the
// members meanwhile.
func (p *parts) removeFirewallIfIdle() {
	ids, err := p.dp.NetworkIDs()
	if err != nil || len(ids) > 0 {
		p.log.Info("keeping firewall rules: weavego networks remain in the kernel", "networks", len(ids))
		return
	}
	if err := p.dp.RemoveFirewall(); err != nil {
		p.log.Warn("remove firewall rules", "err", err)
	}
}

// firewallLoop keeps weavego's input rules in place, undoing a flush by hand,
// removes an earlier weavego's forward rules that Docker's restart may have
// left, and pins the networks' namespaces again if their pins went away.
func (p *parts) firewallLoop(ctx context.Context) {
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		if err := p.dp.EnsureFirewall(); err != nil {
			p.log.Warn("firewall rules", "err", err)
		}
		if err := p.dp.Repin(); err != nil {
			p.log.Warn("network namespaces", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// collectGarbage removes the veth pairs of endpoints the driver does not know
// (a background delete lost in a crash; see datapath.SweepEndpoints), then
// the kernel devices of networks the driver does not know (left over from a
// crash between kernel change and record), but only those weavego provably
// created and with no container attached; see datapath.Leftovers.
func (p *parts) collectGarbage(known []string) {
	var endpoints []string
	for _, ep := range p.driver.Endpoints() {
		endpoints = append(endpoints, ep.ID)
	}
	if err := p.dp.SweepEndpoints(known, endpoints); err != nil {
		p.log.Warn("remove veth pairs of unknown endpoints", "err", err)
	}
	left, err := p.dp.Leftovers(known)
	if err != nil {
		p.log.Warn("list networks in the kernel", "err", err)
		return
	}
	for _, lo := range left {
		if lo.Why != "" {
			p.log.Warn("leaving an unknown weavego-named bridge in place", "network", lo.ID, "reason", lo.Why)
			continue
		}
		p.log.Info("removing devices of an unknown network", "network", lo.ID)
		if err := p.dp.DeleteNetwork(lo.ID); err != nil {
			p.log.Warn("remove leftover network", "network", lo.ID, "err", err)
		}
	}
}
