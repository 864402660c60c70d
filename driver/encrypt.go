package driver

import "fmt"

// applyEncryption decides whether new network n is encrypted: by its
// option, else, for a network created on this host (not a replica, which
// follows its cluster definition), by Config.EncryptDefault, which it then
// records as the option so that every host builds the network the same way.
// It refuses an encrypted network on a host that cannot encrypt. mu is held.
func (d *Driver) applyEncryption(n *Network) error {
	if _, ok := n.Options[OptEncrypted]; !ok && d.cfg.EncryptDefault && n.Options[OptReplica] == "" {
		n.Options[OptEncrypted] = "true"
	}
	if !Encrypted(n.Options) {
		return nil
	}
	if d.cfg.CannotEncrypt != nil {
		return fmt.Errorf("this host cannot create or join an encrypted network: %w", d.cfg.CannotEncrypt)
	}
	return nil
}
