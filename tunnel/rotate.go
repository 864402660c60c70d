package tunnel

import (
	"fmt"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// Rotate replaces this host's key pair: it generates a new private key,
// saves it in place of the old one, and gives it to the device, whose peers
// stay. Sessions made with the old key end; the other hosts learn the new
// public key from this host's records and handshake again. It returns the
// old and new public keys.
//
// The key is saved before the device takes it: if the device refuses it,
// the next start uses the new key, which is what was asked for.
func (t *Tunnel) Rotate() (old, cur wgtypes.Key, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.client == nil {
		return wgtypes.Key{}, wgtypes.Key{}, fmt.Errorf("WireGuard device %s is closed", t.cfg.Device)
	}
	k, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		return wgtypes.Key{}, wgtypes.Key{}, fmt.Errorf("generate WireGuard key: %w", err)
	}
	if err := saveKey(t.cfg.StateDir, k); err != nil {
		return wgtypes.Key{}, wgtypes.Key{}, err
	}
	old = t.key.PublicKey()
	t.key = k
	if err := t.client.ConfigureDevice(t.cfg.Device, wgtypes.Config{PrivateKey: &k}); err != nil {
		return old, k.PublicKey(), fmt.Errorf("give the new key to WireGuard device %s (it is saved, and the "+
			"plugin uses it from its next start: docker plugin disable weavego && docker plugin enable weavego): %w",
			t.cfg.Device, err)
	}
	t.log.Info("WireGuard key pair replaced", "device", t.cfg.Device, "old_public_key", old.String(),
		"public_key", k.PublicKey().String())
	return old, k.PublicKey(), nil
}
