package datapath

import (
	"errors"
)

// nftables objects of the forward rules, present only while a network's
// bridge is in the host namespace (see firewall_forward.go).
const (
	// FirewallChain is our regular chain in Docker's "ip filter" table
	// (and "ip6 filter"), jumped to from the head of its FORWARD chain.
	FirewallChain = "WEAVEGO-FORWARD"
	// FirewallTable is our own "ip" (and "ip6") table, used when Docker's
	// is absent.
	FirewallTable = "weavego"

	dockerTable    = "filter"  // iptables-nft's table, when Docker uses it
	dockerForward  = "FORWARD" // its forward base chain
	ownForwardName = "forward" // base chain in FirewallTable
)

// EnsureFirewall puts the input rules in place (see the package comment)
// and keeps the forward rules exactly as long as some network's bridge is
// in the host namespace (see firewall_forward.go). It only reads when
// nothing changed, so the plugin may call it periodically to undo a flush
// by hand.
func (m *Manager) EnsureFirewall() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ensureFirewall()
}

// ensureFirewall removes the forward rules only once no network is left in
// the host namespace: until it moves into its namespace, such a network's
// bridged traffic needs them to pass Docker's FORWARD policy. mu is held.
func (m *Manager) ensureFirewall() error {
	host, err := m.hostBridgeIDs()
	if err != nil {
		return errors.Join(err, m.ensureInput())
	}
	if len(host) == 0 {
		return errors.Join(m.removeForward(), m.ensureInput())
	}
	bridges := make([]string, 0, len(host))
	for _, id := range host {
		bridges = append(bridges, BridgeName(id))
	}
	return errors.Join(m.ensureForward(bridges), m.ensureInput())
}
