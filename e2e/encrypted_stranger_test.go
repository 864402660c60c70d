//go:build linux

package e2e

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// strangerNotAccepted runs, in the underlay's namespace (an address on the hosts' segment that is no member's),
// a hand-built wireguard-go peer with a key of its own that names member h's public key and WireGuard port,
// and makes it send towards the encrypted network (subnet, whose container at target it pings). h knows no
// such key: the stranger's handshake never completes, it receives nothing, the ping gets no answer, and h
// lists no peer at its address.
func strangerNotAccepted(t *testing.T, c *Cluster, h *Host, subnet, target string) {
	t.Helper()
	st := mustStatus(t, h)
	if st.Encryption.PublicKey == "" {
		t.Fatalf("%s publishes no WireGuard key: %+v", h.Name, st.Encryption)
	}
	key, _ := newWGKey(t)
	ns := filepath.Join(NetnsDir, c.UnderlayNS)
	p := startWGPeer(t, BuildProbe(t, "wgpeer"), "wgstranger", ns, "-dev", "wgx0", "-port", "6791", "-key", key,
		"-peer", st.Encryption.PublicKey, "-endpoint", fmt.Sprintf("%s:%d", h.IP, wireGuardPort),
		"-allowed", subnet, "-addr", "10.98.0.1/24")
	if out, err := c.UnderlayExec("ip", "route", "replace", subnet, "dev", "wgx0"); err != nil {
		t.Fatalf("route %s into the stranger's tunnel: %v %s", subnet, err, out)
	}
	if out, err := c.UnderlayExec("ping", "-c", "5", "-i", "0.5", "-W", "1", target); err == nil {
		t.Errorf("a peer whose key is no member's reached %s through %s's WireGuard port: %s", target, h.Name, out)
	}
	time.Sleep(6 * time.Second) // wireguard-go retries its handshake every 5 s
	hs, rx := p.status()
	if hs != "0" || rx != "0" {
		t.Errorf("the stranger's peer %s: last handshake %q, %q bytes received; want none (its log: %s)",
			h.Name, hs, rx, p.tail())
	}
	for _, peer := range mustStatus(t, h).Encryption.Peers {
		if peer.Addr == UnderlayGateway.String() {
			t.Errorf("%s lists the stranger at %s as an encrypted peer: %+v", h.Name, peer.Addr, peer)
		}
	}
	t.Logf("a wireguard-go peer with a key of its own sent handshakes and pings to %s: no handshake, %s bytes "+
		"received", h.Name, rx)
}
