package datapath

import (
	"errors"
)

// nftables objects of the forward rules of an earlier weavego, removed
// wherever they are found (see removeForward).
const (
	// FirewallChain was our regular chain in Docker's "ip filter" table,
	// jumped to from the head of its FORWARD chain.
	FirewallChain = "WEAVEGO-FORWARD"
	// FirewallTable was our own "ip" table, used when Docker's is absent.
	FirewallTable = "weavego"

	dockerTable    = "filter"  // iptables-nft's table, when Docker uses it
	dockerForward  = "FORWARD" // its forward base chain
	ownForwardName = "forward" // base chain in FirewallTable
)

// EnsureFirewall puts the input rules in place (see the package comment)
// and removes the forward rules an earlier weavego needed while its bridges
// were in the host namespace. It only reads when nothing changed, so the
// plugin may call it periodically to undo a flush by hand.
func (m *Manager) EnsureFirewall() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ensureFirewall()
}

// ensureFirewall removes the old forward rules only once no network is left
// in the host namespace: until its move, such a network's bridged traffic
// still needs them to pass Docker's FORWARD policy.
func (m *Manager) ensureFirewall() error {
	old, err := m.hostBridgeIDs()
	if err != nil || len(old) > 0 {
		return errors.Join(err, m.ensureInput())
	}
	return errors.Join(m.removeForward(), m.ensureInput())
}
