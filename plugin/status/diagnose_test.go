package status

import (
	"strings"
	"testing"
	"time"

	"github.com/weavego/weavego/ipalloc"
	"github.com/weavego/weavego/mesh"
	"github.com/weavego/weavego/plugin/keyring"
	"github.com/weavego/weavego/reconcile"
)

func TestDiagnose(t *testing.T) {
	now := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	healthy := Report{Cluster: reconcile.Status{Peers: []reconcile.PeerStatus{
		{Name: "h1", Addr: "10.0.0.1", State: mesh.StateAlive, Local: true},
		{Name: "h2", Addr: "10.0.0.2", State: mesh.StateAlive},
		{Name: "h3", Addr: "10.0.0.3", State: mesh.StateLeft},
	}}, JoinTargets: []string{"10.0.0.2:6783", "peer.example:6783"}, Security: Security{Mode: keyring.ModeKey}}
	tests := []struct {
		name  string
		edit  func(r *Report)
		wants []string // in What or Fix, in order of the problems
	}{
		{"healthy", func(*Report) {}, nil},
		{"dead peer", func(r *Report) {
			r.Cluster.Peers[1].State, r.Cluster.Peers[1].Since = mesh.StateDead, now.Add(-90*time.Second)
		}, []string{"peer h2 (10.0.0.2) is unreachable since 2026-12-02 05:58:30 UTC (1m30s ago)",
			"TCP and UDP 6783", "weavego rmpeer h2", "cannot join 10.0.0.2:6783", "weavego forget 10.0.0.2:6783"}},
		{"mixed families", func(r *Report) {
			r.Cluster.VTEP = "10.0.0.1"
			r.Cluster.Peers = append(r.Cluster.Peers, reconcile.PeerStatus{Name: "h4", Addr: "fd00::4", State: mesh.StateAlive})
		}, []string{`host "h4" advertises fd00::4 and this host 10.0.0.1`, "ADVERTISE_ADDR="}},
		{"target never joined", func(r *Report) { r.JoinTargets = append(r.JoinTargets, "10.0.0.9:6783") },
			[]string{"cannot join 10.0.0.9:6783", "weavego forget 10.0.0.9:6783"}},
		{"range mismatch", func(r *Report) {
			r.IPAM = ipalloc.Status{Problems: []string{"host h2 uses IPALLOC_RANGE 10.40.0.0/16 but this host uses 10.32.0.0/12"}}
		}, []string{"uses IPALLOC_RANGE 10.40.0.0/16", "docker plugin set weavego IPALLOC_RANGE="}},
		{"range6 mismatch", func(r *Report) {
			r.IPAM = ipalloc.Status{Problems: []string{"host h2 uses IPALLOC_RANGE6 fd00:9::/48 but this host uses fd77:6561:7665::/48"}}
		}, []string{"uses IPALLOC_RANGE6 fd00:9::/48", "docker plugin set weavego IPALLOC_RANGE6="}},
		{"refused network", func(r *Report) {
			r.Cluster.Networks = []reconcile.NetworkStatus{{Name: "net1", Subnet: "10.1.0.0/24", Refused: "subnet overlaps this host's 10.1.0.0/16"}}
		}, []string{"network net1 (10.1.0.0/24) is not created on this host", "another --subnet"}},
		{"unknown options", func(r *Report) {
			r.Cluster.Networks = []reconcile.NetworkStatus{{Name: "net1", Subnet: "10.1.0.0/24",
				UnknownOptions: "network net1 was created with -o encrypted", UnknownOptionsFix: "re-create it"}}
		}, []string{"network net1 was created with -o encrypted", "re-create it"}},
		{"rejected", func(r *Report) {
			r.Rejected = []mesh.Rejection{{Owner: "h9", Kind: "endpoint", Count: 3, Last: "bad address"}}
		}, []string{"3 endpoint records from h9 refused (last: bad address)", "weavego version"}},
		{"open", func(r *Report) { r.Security.Mode = keyring.ModeOpen }, []string{"OPEN", "KEY"}},
		{"forwarding on", func(r *Report) { r.Engine = Engine{Version: "29.8.1", FirewallBackend: "nftables", IPForward: "on"} }, nil},
		{"forwarding off", func(r *Report) { r.Engine = Engine{Version: "29.8.1", FirewallBackend: "nftables", IPForward: "off"} },
			[]string{"no egress through docker_gwbridge", "nftables firewall backend", "net.ipv4.ip_forward=1"}},
		{"forwarding off, iptables", func(r *Report) { r.Engine = Engine{Version: "20.10.24", IPForward: "off"} },
			[]string{"IPv4 forwarding is off", "net.ipv4.ip_forward=1"}},
		{"legacy key", func(r *Report) { r.Security.Mode = keyring.ModeLegacy },
			[]string{"unsalted SHA-256 of PASSWORD", "weavego key generate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := healthy
			r.Cluster.Peers = append([]reconcile.PeerStatus(nil), healthy.Cluster.Peers...)
			r.JoinTargets = append([]string(nil), healthy.JoinTargets...)
			tt.edit(&r)
			var text strings.Builder
			for _, p := range Diagnose(r, 6783, now) {
				text.WriteString(p.What + "\n" + p.Fix + "\n")
			}
			if len(tt.wants) == 0 && text.Len() != 0 {
				t.Fatalf("problems on a healthy cluster:\n%s", text.String())
			}
			rest := text.String()
			for _, w := range tt.wants {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("missing %q (in order) in:\n%s", w, text.String())
				}
				rest = rest[i+len(w):]
			}
		})
	}
}
