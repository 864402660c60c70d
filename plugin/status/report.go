// Package status is the status report of a weavego host, as the plugin
// serves it on GET /status and the weavego command prints it, and what is
// wrong in it (Diagnose). It holds data and sentences only: the daemon
// gathers the report, the control API serves it, the client renders it.
package status

import (
	"fmt"

	"github.com/weavego/weavego/dnsd"
	"github.com/weavego/weavego/ipalloc"
	"github.com/weavego/weavego/mesh"
	"github.com/weavego/weavego/plugin/keyring"
	"github.com/weavego/weavego/reconcile"
)

// Report is the answer of GET /status.
type Report struct {
	Version string
	// NotStarted is why the plugin refuses to start ("" when it runs): it
	// then serves nothing else.
	NotStarted string `json:",omitempty"`
	Cluster    reconcile.Status
	IPAM       ipalloc.Status
	DNS        DNS
	// Security says how gossip is protected.
	Security Security
	// Rejected counts the records of other hosts this host refused, per
	// owner and kind (see mesh.Rejection).
	Rejected []mesh.Rejection `json:",omitempty"`
	// Firewall counts what the host's input rules dropped.
	Firewall Firewall
	// Engine is the Docker engine served, its firewall backend and the
	// host's forwarding.
	Engine Engine
	// Encryption is this host's WireGuard device and its encrypted paths.
	Encryption Encryption
	// Sync is what this host's sync by difference still awaits (a join
	// in progress, or a repair).
	Sync mesh.SyncProgress
	// JoinTargets are the addresses this host joins and keeps joined:
	// PEERS and those added with weavego connect.
	JoinTargets []string `json:",omitempty"`
	// Problems lists what is wrong, each with what to do; empty when
	// nothing is.
	Problems []Problem `json:",omitempty"`
	// Goroutines is the plugin's goroutine count (the fault suite's soak
	// watches it for leaks).
	Goroutines int
}

// Firewall is what weavego's input rules dropped since they were created:
// packets from containers to the host other than DNS, and VXLAN datagrams
// that no member sent (from an address that is no member, or to an address
// of this host other than its underlay address).
type Firewall struct {
	FromContainer  uint64
	VXLANNonMember uint64
	// Err says why the counters could not be read, "" when they were.
	Err string `json:",omitempty"`
}

// Sentence describes the firewall counters in one line.
func (f Firewall) Sentence() string {
	if f.Err != "" {
		return "firewall counters: " + f.Err
	}
	return fmt.Sprintf("firewall dropped: %d packets from containers to this host, %d VXLAN datagrams no member sent",
		f.FromContainer, f.VXLANNonMember)
}

// Security is the security part of the status.
type Security struct {
	// Mode is "key" (a cluster key), "password" (a key derived from
	// PASSWORD), "password-sha256" (the unsalted key of weavego versions
	// before the cluster key, a problem) or "open" (INSECURE_OPEN=true:
	// anyone who reaches the gossip port joins and writes state).
	Mode string
	// Keys is the number of installed keys (more than one while rotating).
	Keys int
	// Rollout is KEY_ROLLOUT: "" (strict), "accept" or "send".
	Rollout string `json:",omitempty"`
	// GossipAddr is the address and port gossip listens on.
	GossipAddr string
	// ControlSocket is the path of the control socket in the plugin.
	ControlSocket string
	// StreamsRefused counts gossip streams refused before authentication
	// (over a bound, too large, or opened by no key); DatagramsDropped the
	// datagrams of non-members dropped over their shared rate.
	StreamsRefused, DatagramsDropped uint64
	// Replays counts old gossip ignored by the replay rule (records at or
	// below their writer's watermark that would have replaced newer ones).
	Replays uint64
}

// RefusedSentence says what gossip was refused before the key, and what
// old gossip was ignored after it.
func (s Security) RefusedSentence() string {
	return fmt.Sprintf("gossip refused before the key: %d streams, %d datagrams of non-members; "+
		"old records ignored (replays): %d", s.StreamsRefused, s.DatagramsDropped, s.Replays)
}

// Sentence describes the security status in one line.
func (s Security) Sentence() string {
	switch {
	case s.Mode == keyring.ModeOpen:
		return "cluster is OPEN (INSECURE_OPEN=true): anyone who can reach " + s.GossipAddr + " can join and write state"
	case s.Rollout != "":
		return fmt.Sprintf("cluster key: %s, %d installed, KEY_ROLLOUT=%s (plain gossip still accepted)", s.Mode, s.Keys, s.Rollout)
	}
	return fmt.Sprintf("cluster key: %s, %d installed; gossip on %s", s.Mode, s.Keys, s.GossipAddr)
}

// DNS is the DNS part of the status.
type DNS struct {
	Domain  string
	Listen  []string
	Records int
	Stats   dnsd.Stats
	// ServiceAddr is DNS_ADDR, "" when off; DaemonJSON the line that makes
	// every container of this host use it.
	ServiceAddr string `json:",omitempty"`
	DaemonJSON  string `json:",omitempty"`
}

// Encryption is the encryption part of the status: this host's WireGuard
// device, or why it has none, and the encrypted path to each host that
// shares an encrypted network with this one.
type Encryption struct {
	// Device is "kernel" or "userspace" (wireguard-go); "" when this host
	// cannot encrypt, and Unavailable says why.
	Device      string `json:",omitempty"`
	Unavailable string `json:",omitempty"`
	PublicKey   string `json:",omitempty"`
	Port        int    `json:",omitempty"`
	// DevicePeers are the public keys the device accepts, as read from it:
	// those of the Peers whose path is set up, and no other.
	DevicePeers []string `json:",omitempty"`
	// Networks are the encrypted networks of the cluster.
	Networks []string                  `json:",omitempty"`
	Peers    []reconcile.EncryptedPeer `json:",omitempty"`
}
