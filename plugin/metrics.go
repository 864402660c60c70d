package main

import (
	"context"

	"github.com/weavego/weavego/dnsd"
	"github.com/weavego/weavego/plugin/metrics"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// newMetrics builds the metrics registry over the parts built so far: the
// mesh, the datapath and the allocator; dnsd is read through p when scraped.
// The registry always exists (the wrappers cost a few atomic adds); it is
// served only when METRICS_ADDR is set.
func (p *parts) newMetrics() {
	p.metrics = metrics.New(metrics.Sources{Version: version, Mesh: p.mesh, IPAM: p.alloc, Datapath: p.dp,
		DNS: dnsStats{p}, WireGuard: wireGuardStats{p}})
}

// wireGuardStats reads the encrypted paths once the agent exists: their
// state from the agent, their byte counts from the device.
type wireGuardStats struct{ p *parts }

func (w wireGuardStats) WireGuardPeers() []metrics.WireGuardPeer {
	if w.p.agent == nil || w.p.tun == nil {
		return nil
	}
	dev, _ := w.p.tun.Status() // on an error, the byte counts are left at 0 and the peers down
	var out []metrics.WireGuardPeer
	for _, e := range w.p.agent.EncryptedPeers() {
		mp := metrics.WireGuardPeer{Name: e.Name, Up: e.Up, LastHandshake: e.LastHandshake}
		if k, err := wgtypes.ParseKey(e.PublicKey); err == nil && e.PublicKey != "" {
			mp.ReceivedBytes, mp.SentBytes = dev[k].RxBytes, dev[k].TxBytes
		}
		out = append(out, mp)
	}
	return out
}

// dnsStats reads dnsd's counters once dnsd exists (it is built after the
// registry, which it reports to).
type dnsStats struct{ p *parts }

func (d dnsStats) Stats() dnsd.Stats {
	if d.p.dns == nil {
		return dnsd.Stats{}
	}
	return d.p.dns.Stats()
}

// serveMetrics serves /metrics on METRICS_ADDR until ctx ends; it returns
// at once when the setting is empty. The listener is in the host's network
// namespace: containers cannot reach it (weavego's input rules drop all
// they send to the host but DNS), but on a non-loopback address the
// underlay can.
func (p *parts) serveMetrics(ctx context.Context) error {
	if p.set.MetricsAddr == "" {
		return nil
	}
	l, err := metrics.Listen(p.set.MetricsAddr)
	if err != nil {
		return err
	}
	p.log.Info("serving metrics", "addr", l.Addr().String(), "path", "/metrics")
	return p.metrics.Serve(ctx, l, p.log)
}
