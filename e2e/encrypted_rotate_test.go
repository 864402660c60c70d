//go:build linux

package e2e

import (
	"fmt"
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
				took = time.Since(rotated)
				return nil
			}
		}
		return fmt.Errorf("h2 has no fresh handshake with h1's new key: %+v", e.Peers)
	})
	time.Sleep(3 * time.Second) // replies after the rotation
	r := p.stop()
	t.Logf("rotation on h1: h2's device had h1's new key with a fresh handshake within %s; ping h2 -> h1 over the "+
		"encrypted network: %s (%d lost)", took.Round(time.Millisecond), r, r.sent-r.replies)
	if r.replies == 0 {
		t.Errorf("no ping replies at all across the rotation: %s", r)
	}
	Eventually(t, time.Minute, func() error { return fetch(h2, "encclient", fmt.Sprintf("http://%s:8080/", encIP), marker) })
	counts, err := cp.Stop()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("underlay capture during the rotation: %d frames; markers %v; UDP by port %v", counts.Frames, counts.Marker, counts.UDP)
	neverInClear(t, counts, marker, vni)
}
