package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// WireGuardPeer is the encrypted path to one host, as the collector reports
// it.
type WireGuardPeer struct {
	// Name is the host's member name, the metrics' peer label.
	Name string
	// Up: the path has a fresh handshake; LastHandshake is zero when it
	// never had one.
	Up                       bool
	LastHandshake            time.Time
	ReceivedBytes, SentBytes int64
}

// WireGuard is what the collector reads of this host's encrypted paths.
type WireGuard interface {
	WireGuardPeers() []WireGuardPeer
}

// wgDescs are the per-peer metrics of the encrypted paths.
type wgDescs struct {
	up, handshakeAge, received, sent *prometheus.Desc
}

func newWGDescs() wgDescs {
	return wgDescs{
		up: desc("wireguard_peer_up", "1 when the encrypted path to the peer has a fresh WireGuard handshake; "+
			"0 when it has none (frames of encrypted networks to it are dropped; weavego status says why).", "peer"),
		handshakeAge: desc("wireguard_handshake_age_seconds",
			"Time since the last WireGuard handshake with the peer; absent before the first.", "peer"),
		received: desc("wireguard_received_bytes_total", "Bytes received from the peer through WireGuard.", "peer"),
		sent:     desc("wireguard_sent_bytes_total", "Bytes sent to the peer through WireGuard.", "peer"),
	}
}

func (d *wgDescs) all() []*prometheus.Desc {
	return []*prometheus.Desc{d.up, d.handshakeAge, d.received, d.sent}
}

func (c *collector) collectWireGuard(ch chan<- prometheus.Metric, now time.Time) {
	d := &c.wg
	for _, p := range c.src.WireGuard.WireGuardPeers() {
		up := 0.0
		if p.Up {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(d.up, prometheus.GaugeValue, up, p.Name)
		if !p.LastHandshake.IsZero() {
			ch <- prometheus.MustNewConstMetric(d.handshakeAge, prometheus.GaugeValue, now.Sub(p.LastHandshake).Seconds(), p.Name)
		}
		ch <- prometheus.MustNewConstMetric(d.received, prometheus.CounterValue, float64(p.ReceivedBytes), p.Name)
		ch <- prometheus.MustNewConstMetric(d.sent, prometheus.CounterValue, float64(p.SentBytes), p.Name)
	}
}
