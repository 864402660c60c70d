package tunnel

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// KeyFile is the name of the file, in the state directory, that holds this
// host's WireGuard private key (base64, mode 0600), beside the cluster key's
// keyring file.
const KeyFile = "wireguard.key"

// LoadOrCreateKey returns the private key saved in dir, or generates one and
// saves it there (mode 0600, written to a temporary file and renamed). A
// saved file readable by others than its owner is made 0600 again.
func LoadOrCreateKey(dir string) (wgtypes.Key, error) {
	path := filepath.Join(dir, KeyFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		k, perr := wgtypes.ParseKey(strings.TrimSpace(string(b)))
		if perr != nil {
			return wgtypes.Key{}, fmt.Errorf("WireGuard key file %s is damaged (%v): remove it and restart the plugin "+
				"to make a new key pair", path, perr)
		}
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(path, 0o600); err != nil {
				return wgtypes.Key{}, fmt.Errorf("make WireGuard key file %s private: %w", path, err)
			}
		}
		return k, nil
	case !errors.Is(err, fs.ErrNotExist):
		return wgtypes.Key{}, fmt.Errorf("read WireGuard key file: %w", err)
	}
	k, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		return wgtypes.Key{}, fmt.Errorf("generate WireGuard key: %w", err)
	}
	if err := saveKey(dir, k); err != nil {
		return wgtypes.Key{}, err
	}
	return k, nil
}

// saveKey saves k in dir (mode 0600), written to a temporary file and
// renamed, so that the file holds the old key or the new one, never a part.
func saveKey(dir string, k wgtypes.Key) error {
	path := filepath.Join(dir, KeyFile)
	tmp, err := os.CreateTemp(dir, KeyFile+".*")
	if err != nil {
		return fmt.Errorf("save WireGuard key: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.WriteString(k.String() + "\n")
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("save WireGuard key to %s: %w", path, err)
	}
	return nil
}
