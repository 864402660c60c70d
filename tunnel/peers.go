package tunnel

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// keepalive keeps each session's handshake fresh and NAT mappings open, so
// that status tells at once whether a peer's path works.
const keepalive = 25 * time.Second

// SetPeers makes the device's peers exactly peers: it removes the others
// and adds or updates only what differs, so established sessions survive.
func (t *Tunnel) SetPeers(peers []Peer) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.client == nil {
		return fmt.Errorf("WireGuard device %s is closed", t.cfg.Device)
	}
	dev, err := t.client.Device(t.cfg.Device)
	if err != nil {
		return fmt.Errorf("read WireGuard device %s: %w", t.cfg.Device, err)
	}
	want := map[wgtypes.Key]Peer{}
	for _, p := range peers {
		want[p.PublicKey] = p
	}
	var cfg []wgtypes.PeerConfig
	have := map[wgtypes.Key]bool{}
	for _, p := range dev.Peers {
		w, ok := want[p.PublicKey]
		if !ok {
			cfg = append(cfg, wgtypes.PeerConfig{PublicKey: p.PublicKey, Remove: true})
			continue
		}
		have[p.PublicKey] = true
		if !samePeer(p, w) {
			cfg = append(cfg, peerConfig(w))
		}
	}
	for k, p := range want {
		if !have[k] {
			cfg = append(cfg, peerConfig(p))
		}
	}
	if len(cfg) == 0 {
		return nil
	}
	if err := t.client.ConfigureDevice(t.cfg.Device, wgtypes.Config{Peers: cfg}); err != nil {
		return fmt.Errorf("set peers of WireGuard device %s: %w", t.cfg.Device, err)
	}
	return nil
}

func hostPrefix(a netip.Addr) net.IPNet {
	a = a.Unmap()
	return net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(a.BitLen(), a.BitLen())}
}

func peerConfig(p Peer) wgtypes.PeerConfig {
	ka := keepalive
	return wgtypes.PeerConfig{PublicKey: p.PublicKey, Endpoint: udpAddr(p.Addr.Unmap(), p.Port),
		ReplaceAllowedIPs: true, AllowedIPs: []net.IPNet{hostPrefix(p.Addr)}, PersistentKeepaliveInterval: &ka}
}

func samePeer(have wgtypes.Peer, want Peer) bool {
	if have.Endpoint == nil || have.Endpoint.AddrPort() != netip.AddrPortFrom(want.Addr.Unmap(), uint16(want.Port)) {
		return false
	}
	if len(have.AllowedIPs) != 1 || have.AllowedIPs[0].String() != (&net.IPNet{IP: hostPrefix(want.Addr).IP,
		Mask: hostPrefix(want.Addr).Mask}).String() {
		return false
	}
	return have.PersistentKeepaliveInterval == keepalive
}

// PeerStatus is what the device knows of one peer.
type PeerStatus struct {
	PublicKey     wgtypes.Key
	Endpoint      string
	LastHandshake time.Time // zero: never
	RxBytes       int64
	TxBytes       int64
}

// Status lists the device's peers.
func (t *Tunnel) Status() (map[wgtypes.Key]PeerStatus, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.client == nil {
		return nil, fmt.Errorf("WireGuard device %s is closed", t.cfg.Device)
	}
	dev, err := t.client.Device(t.cfg.Device)
	if err != nil {
		return nil, fmt.Errorf("read WireGuard device %s: %w", t.cfg.Device, err)
	}
	out := map[wgtypes.Key]PeerStatus{}
	for _, p := range dev.Peers {
		ps := PeerStatus{PublicKey: p.PublicKey, LastHandshake: p.LastHandshakeTime, RxBytes: p.ReceiveBytes, TxBytes: p.TransmitBytes}
		if p.Endpoint != nil {
			ps.Endpoint = p.Endpoint.String()
		}
		out[p.PublicKey] = ps
	}
	return out, nil
}
