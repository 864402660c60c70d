package mesh

import (
	"errors"
	"fmt"

	"github.com/hashicorp/memberlist"
)

// Rollout is a stage of moving an open cluster to a key without downtime.
// Every host first gets the key with RolloutAccept, then each moves to
// RolloutSend, then to RolloutStrict; at each step every pair of hosts
// still understands each other.
type Rollout string

// The rollout stages.
const (
	// RolloutStrict sends encrypted and accepts only encrypted gossip.
	RolloutStrict Rollout = ""
	// RolloutAccept has the key but sends plain gossip, and accepts both.
	RolloutAccept Rollout = "accept"
	// RolloutSend sends encrypted gossip and still accepts plain gossip.
	RolloutSend Rollout = "send"
)

func (r Rollout) validate() error {
	switch r {
	case RolloutStrict, RolloutAccept, RolloutSend:
		return nil
	}
	return fmt.Errorf("%w: KeyRollout %q is not accept, send or empty", ErrInvalidConfig, string(r))
}

// verify gives memberlist's GossipVerifyIncoming and GossipVerifyOutgoing.
func (r Rollout) verify() (incoming, outgoing bool) {
	switch r {
	case RolloutAccept:
		return false, false
	case RolloutSend:
		return false, true
	}
	return true, true
}

// ErrOpenCluster is returned by the key methods of a Mesh started without
// keys: an open cluster gets a key by a restart with one.
var ErrOpenCluster = errors.New("this host runs an open cluster (no key): set KEY and restart the plugin to use keys")

// newKeyring builds memberlist's keyring from keys, the first primary; nil
// for an open cluster.
func newKeyring(keys [][]byte) (*memberlist.Keyring, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	ring, err := memberlist.NewKeyring(keys, keys[0])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return ring, nil
}

// Encrypted reports whether gossip is encrypted (the mesh has keys).
func (m *Mesh) Encrypted() bool { return m.ring != nil }

// Rollout returns the configured rollout stage.
func (m *Mesh) Rollout() Rollout { return m.cfg.KeyRollout }

// Keys returns copies of the installed keys, the primary first; nil for an
// open cluster.
func (m *Mesh) Keys() [][]byte {
	if m.ring == nil {
		return nil
	}
	keys := m.ring.GetKeys()
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = append([]byte(nil), k...)
	}
	return out
}

// InstallKey adds key to the keys gossip is received with; it is not used
// to send until UseKey. Installing a key twice is harmless.
func (m *Mesh) InstallKey(key []byte) error {
	if m.ring == nil {
		return ErrOpenCluster
	}
	if err := memberlist.ValidateKey(key); err != nil {
		return fmt.Errorf("install key: the key is %d bytes, want 32", len(key))
	}
	return m.ring.AddKey(key)
}

// UseKey makes an installed key the primary key, used to send.
func (m *Mesh) UseKey(key []byte) error {
	if m.ring == nil {
		return ErrOpenCluster
	}
	if !m.hasKey(key) {
		return errors.New("use key: the key is not installed on this host: install it first (weavego key install KEY)")
	}
	return m.ring.UseKey(key)
}

// RemoveKey removes an installed key that is not the primary key.
func (m *Mesh) RemoveKey(key []byte) error {
	if m.ring == nil {
		return ErrOpenCluster
	}
	if !m.hasKey(key) {
		return errors.New("remove key: the key is not installed on this host")
	}
	if keys := m.ring.GetKeys(); len(keys) > 0 && string(keys[0]) == string(key) {
		return errors.New("remove key: it is the primary key: use another key first (weavego key use KEY)")
	}
	return m.ring.RemoveKey(key)
}

func (m *Mesh) hasKey(key []byte) bool {
	for _, k := range m.ring.GetKeys() {
		if string(k) == string(key) {
			return true
		}
	}
	return false
}
