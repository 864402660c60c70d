package main

import (
	"encoding/json"
	"net/netip"
	"runtime"
	"strings"
	"time"

	"github.com/weavego/weavego/datapath"
	"github.com/weavego/weavego/plugin/keyring"
	"github.com/weavego/weavego/plugin/status"
)

// firewallStatus reads the counters of weavego's input rules.
func (p *parts) firewallStatus() status.Firewall {
	c, err := p.dp.FirewallCounters()
	if err != nil {
		return status.Firewall{Err: err.Error()}
	}
	return status.Firewall{FromContainer: c[datapath.CounterFromContainer], VXLANNonMember: c[datapath.CounterVXLANNonMember]}
}

// Report gathers the status report of GET /status from the running parts.
func (p *parts) Report() status.Report {
	r := status.Report{
		Version: version,
		Cluster: p.agent.Status(),
		IPAM:    p.alloc.Status(),
		DNS: status.DNS{Domain: p.set.DNSDomain, Listen: p.dns.Addrs(), Records: p.table.Len(),
			Stats: p.dns.Stats()},
		Security: p.security(),
		Rejected: p.mesh.Rejected(),
		Firewall: p.firewallStatus(),
		Sync:     p.mesh.SyncProgress(),
		Engine:   p.engine.Status(),

		Goroutines: runtime.NumGoroutine(),
	}
	r.Encryption = p.encryptionStatus(r.Cluster)
	r.JoinTargets = p.mesh.JoinTargets()
	r.Problems = status.Diagnose(r, p.set.GossipPort, time.Now())
	var addrs []string
	for _, a := range []netip.Addr{p.set.DNSAddr6, p.set.DNSAddr} {
		if a.IsValid() {
			addrs = append(addrs, a.String())
		}
	}
	if len(addrs) > 0 {
		r.DNS.ServiceAddr = strings.Join(addrs, " ")
		r.DNS.DaemonJSON = daemonJSON(addrs)
	}
	return r
}

// daemonJSON is the /etc/docker/daemon.json line that points every
// container of a host at the DNS service addresses. The IPv6 one comes
// first: Docker's resolver tries them in order, and from a container
// without IPv6 there is no route to it, which fails at once, while the IPv4
// one, asked from an IPv6-only network, goes out through docker_gwbridge
// and times out.
func daemonJSON(addrs []string) string {
	b, _ := json.Marshal(map[string][]string{"dns": addrs})
	return string(b)
}

func (p *parts) security() status.Security {
	s := p.sec
	keys := p.mesh.Keys()
	s.Keys = len(keys)
	switch {
	case p.legacyKey != "" && len(keys) > 0 && keyring.Fingerprint(keys[0]) == p.legacyKey:
		s.Mode = keyring.ModeLegacy
	case s.Mode == keyring.ModeLegacy: // weavego key use moved away from it since the start
		s.Mode = keyring.ModeKey
	}
	st := p.mesh.Stats()
	s.StreamsRefused, s.DatagramsDropped, s.Replays = st.StreamsRefused, st.PacketsDropped, st.Stale
	return s
}
