package main

import (
	"encoding/json"
	"fmt"
	"github.com/weavego/weavego/plugin/keyring"
	"net/http"
	"runtime"
	"time"

	"github.com/weavego/weavego/datapath"
	"github.com/weavego/weavego/dnsd"
	"github.com/weavego/weavego/ipalloc"
	"github.com/weavego/weavego/mesh"
	"github.com/weavego/weavego/reconcile"
)

// StatusReport is the answer of GET /status.
type StatusReport struct {
	Version string
	// NotStarted is why the plugin refuses to start ("" when it runs): it
	// then serves nothing else (see refuse).
	NotStarted string `json:",omitempty"`
	Cluster    reconcile.Status
	IPAM       ipalloc.Status
	DNS        DNSStatus
	// Security says how gossip is protected.
	Security SecurityStatus
	// Rejected counts the records of other hosts this host refused, per
	// owner and kind (see mesh.Rejection).
	Rejected []mesh.Rejection `json:",omitempty"`
	// Firewall counts what the host's input rules dropped.
	Firewall FirewallStatus
	// Encryption is this host's WireGuard device and its encrypted paths.
	Encryption EncryptionStatus
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

// FirewallStatus is what weavego's input rules dropped since they were
// created: packets from containers to the host other than DNS, and VXLAN
// datagrams that no member sent (from an address that is no member, or to
// an address of this host other than its underlay address).
type FirewallStatus struct {
	FromContainer  uint64
	VXLANNonMember uint64
	// Err says why the counters could not be read, "" when they were.
	Err string `json:",omitempty"`
}

func (f FirewallStatus) sentence() string {
	if f.Err != "" {
		return "firewall counters: " + f.Err
	}
	return fmt.Sprintf("firewall dropped: %d packets from containers to this host, %d VXLAN datagrams no member sent",
		f.FromContainer, f.VXLANNonMember)
}

func (p *parts) firewallStatus() FirewallStatus {
	c, err := p.dp.FirewallCounters()
	if err != nil {
		return FirewallStatus{Err: err.Error()}
	}
	return FirewallStatus{FromContainer: c[datapath.CounterFromContainer], VXLANNonMember: c[datapath.CounterVXLANNonMember]}
}

// SecurityStatus is the security part of the status.
type SecurityStatus struct {
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

	// legacy is the keyring.Fingerprint of the unsalted key an older weavego
	// derived from PASSWORD, "" if none: Mode is keyring.ModeLegacy while it is
	// the primary key.
	legacy string
}

// refusedSentence says what gossip was refused before the key.
func (s SecurityStatus) refusedSentence() string {
	return fmt.Sprintf("gossip refused before the key: %d streams, %d datagrams of non-members",
		s.StreamsRefused, s.DatagramsDropped)
}

// sentence describes the security status in one line.
func (s SecurityStatus) sentence() string {
	switch {
	case s.Mode == keyring.ModeOpen:
		return "cluster is OPEN (INSECURE_OPEN=true): anyone who can reach " + s.GossipAddr + " can join and write state"
	case s.Rollout != "":
		return fmt.Sprintf("cluster key: %s, %d installed, KEY_ROLLOUT=%s (plain gossip still accepted)", s.Mode, s.Keys, s.Rollout)
	}
	return fmt.Sprintf("cluster key: %s, %d installed; gossip on %s", s.Mode, s.Keys, s.GossipAddr)
}

// DNSStatus is the DNS part of the status.
type DNSStatus struct {
	Domain  string
	Listen  []string
	Records int
	Stats   dnsd.Stats
	// ServiceAddr is DNS_ADDR, "" when off; DaemonJSON the line that makes
	// every container of this host use it.
	ServiceAddr string `json:",omitempty"`
	DaemonJSON  string `json:",omitempty"`
}

func (p *parts) report() StatusReport {
	r := StatusReport{
		Version: version,
		Cluster: p.agent.Status(),
		IPAM:    p.alloc.Status(),
		DNS: DNSStatus{Domain: p.set.DNSDomain, Listen: p.dns.Addrs(), Records: p.table.Len(),
			Stats: p.dns.Stats()},
		Security: p.security(),
		Rejected: p.mesh.Rejected(),
		Firewall: p.firewallStatus(),

		Goroutines: runtime.NumGoroutine(),
	}
	r.Encryption = p.encryptionStatus(r.Cluster)
	r.JoinTargets = p.mesh.JoinTargets()
	r.Problems = diagnose(r, p.set.GossipPort, time.Now())
	if p.set.DNSAddr.IsValid() {
		r.DNS.ServiceAddr = p.set.DNSAddr.String()
		r.DNS.DaemonJSON = daemonJSON(p.set.DNSAddr.String())
	}
	return r
}

// daemonJSON is the /etc/docker/daemon.json line that points every
// container of a host at the DNS service address.
func daemonJSON(addr string) string {
	return fmt.Sprintf(`{"dns": [%q]}`, addr)
}

func (p *parts) security() SecurityStatus {
	s := p.sec
	keys := p.mesh.Keys()
	s.Keys = len(keys)
	switch {
	case s.legacy != "" && len(keys) > 0 && keyring.Fingerprint(keys[0]) == s.legacy:
		s.Mode = keyring.ModeLegacy
	case s.Mode == keyring.ModeLegacy: // weavego key use moved away from it since the start
		s.Mode = keyring.ModeKey
	}
	st := p.mesh.Stats()
	s.StreamsRefused, s.DatagramsDropped = st.StreamsRefused, st.PacketsDropped
	return s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
