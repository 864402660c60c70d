//go:build linux

package e2e

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// rotateDuringPing replaces h1's WireGuard key pair with weavego key rotate-wireguard while container
// encclient on h2 pings h1's encIP over the encrypted network, with the underlay captured. Traffic must resume
// (the pings lost are logged: the gap, not asserted), h2's device must accept h1's new public key and no
// longer its old one, with a fresh handshake, and nothing of the encrypted network may cross in clear.
func rotateDuringPing(t *testing.T, c *Cluster, h1, h2 *Host, encIP, marker string, vni uint32) {
	t.Helper()
	old := mustStatus(t, h1).Encryption.PublicKey
	if old == "" {
		t.Fatal("h1 publishes no WireGuard public key")
	}
	cp, err := c.StartCapture([]string{marker}, plainVXLANPort, encryptedVXLANPort)
	if err != nil {
		t.Fatal(err)
	}
	p, err := startPinger(h2, "encclient", encIP)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // replies before the rotation
	out, err := h1.WeavegoCLI("key", "rotate-wireguard")
	if err != nil {
		p.stop()
		t.Fatalf("weavego key rotate-wireguard on h1: %v: %s", err, out)
	}
	rotated := time.Now()
	t.Logf("weavego key rotate-wireguard on h1: %s", strings.TrimSpace(out))
	cur := mustStatus(t, h1).Encryption.PublicKey
	if cur == old || cur == "" || !strings.Contains(out, cur) {
		t.Errorf("h1's public key after the rotation is %q (before %q), the command said %q", cur, old, out)
	}
	var took time.Duration
	var name1 string // h1's member name, the metrics' peer label
	Eventually(t, 2*time.Minute, func() error {
		e := mustStatus(t, h2).Encryption
		if slices.Contains(e.DevicePeers, old) {
			return fmt.Errorf("h2's WireGuard device still accepts h1's old key %s: %v", old, e.DevicePeers)
		}
		if !slices.Contains(e.DevicePeers, cur) {
			return fmt.Errorf("h2's WireGuard device does not accept h1's new key %s: %v", cur, e.DevicePeers)
		}
		for _, pe := range e.Peers {
			if pe.Addr == h1.IP.String() && pe.PublicKey == cur && pe.Up && pe.LastHandshake.After(rotated.Add(-time.Second)) {
				took, name1 = time.Since(rotated), pe.Name
				return nil
			}
		}
		return fmt.Errorf("h2 has no fresh handshake with h1's new key: %+v", e.Peers)
	})
	time.Sleep(3 * time.Second) // replies after the rotation
	r := p.stop()
	t.Logf("rotation on h1: h2's device had h1's new key with a fresh handshake within %s; ping h2 -> h1 over the "+
		"encrypted network: %s (%d lost; more replies than sent are duplicates)", took.Round(time.Millisecond), r,
		max(0, r.sent-r.replies))
	if r.replies == 0 {
		t.Errorf("no ping replies at all across the rotation: %s", r)
	}
	Eventually(t, time.Minute, func() error { return fetch(h2, "encclient", fmt.Sprintf("http://%s:8080/", encIP), marker) })
	wireGuardMetrics(t, h2, name1)
	counts, err := cp.Stop()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("underlay capture during the rotation: %d frames; markers %v; UDP by port %v", counts.Frames, counts.Marker, counts.UDP)
	neverInClear(t, counts, marker, vni)
}

// wireGuardMetrics checks h's per-peer WireGuard metrics (served on the control socket) for the peer named peer:
// its path up, a recent handshake, bytes both ways.
func wireGuardMetrics(t *testing.T, h *Host, peer string) {
	t.Helper()
	resp, err := unixClient(h.ControlSocket(), 10*time.Second).Get("http://weavego/metrics")
	if err != nil {
		t.Fatalf("metrics of %s: %v", h.Name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	text, label := string(b), `{peer="`+peer+`"`
	up, _ := metricValue(text, "weavego_wireguard_peer_up"+label)
	age, ageFound := metricValue(text, "weavego_wireguard_handshake_age_seconds"+label)
	rx, _ := metricValue(text, "weavego_wireguard_received_bytes_total"+label)
	tx, _ := metricValue(text, "weavego_wireguard_sent_bytes_total"+label)
	t.Logf("%s's WireGuard metrics for %s: up %v, handshake age %.1f s, received %v B, sent %v B", h.Name, peer, up, age, rx, tx)
	if up != 1 || !ageFound || age > 180 || rx == 0 || tx == 0 {
		t.Errorf("%s's WireGuard metrics for peer %s: up %v, handshake age %v (found %v), received %v, sent %v; want "+
			"the path up, a handshake within 3 minutes, bytes both ways", h.Name, peer, up, age, ageFound, rx, tx)
	}
}
