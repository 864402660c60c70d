package client

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/weavego/weavego/ipalloc"
	"github.com/weavego/weavego/mesh"
	"github.com/weavego/weavego/plugin/status"
	"github.com/weavego/weavego/reconcile"
)

func TestRenderProblems(t *testing.T) {
	var b bytes.Buffer
	renderProblems(&b, status.Report{})
	if !strings.Contains(b.String(), "no problems found") {
		t.Errorf("healthy: %q", b.String())
	}
	b.Reset()
	renderProblems(&b, status.Report{Problems: []status.Problem{{What: "peer h2 is unreachable", Fix: "weavego rmpeer h2"}}})
	if !strings.Contains(b.String(), "1 PROBLEM(S):\n- peer h2 is unreachable\n  fix: weavego rmpeer h2") {
		t.Errorf("one problem: %q", b.String())
	}
}

// TestRender: each section of weavego status shows its lines, and the
// whole status shows them all.
func TestRender(t *testing.T) {
	rep := status.Report{Version: "1.2",
		Cluster: reconcile.Status{Self: "h1", VTEP: "10.0.0.1",
			Peers: []reconcile.PeerStatus{{Name: "h1", Addr: "10.0.0.1", State: mesh.StateAlive, Local: true, Endpoints: 2}},
			Networks: []reconcile.NetworkStatus{{Name: "net1", VNI: 7, Subnet: "10.32.0.0/24", Gateway: "10.32.0.1",
				Endpoints: 2, Hosts: []string{"h1", "h2"}}, {Name: "net2", Refused: "overlaps 10.1.0.0/16"},
				{Name: "dnet", VNI: 8, Direct: true, DirectMAC: "02:11:22:33:44:55", Paths: []reconcile.DirectPath{
					{Host: "h2", Addr: "10.0.0.2", Path: "direct"}, {Host: "h3", Addr: "10.0.1.3", Path: "vxlan: not on this host's underlay segment"}}}}},
		IPAM: ipalloc.Status{Range: "10.32.0.0/12", Pools: []ipalloc.PoolStatus{{ID: "10.32.0.0/24",
			Hosts: []ipalloc.HostShare{{Host: "h1", Owned: 254, Used: 2, Free: 252, Reserve: 16, Reachable: true}}}},
			Problems: []string{"range differs"}},
		DNS: status.DNS{Domain: "weave.local.", Listen: []string{"10.32.0.1:53"}, Records: 3,
			ServiceAddr: "169.254.53.53", DaemonJSON: `{"dns": ["169.254.53.53"]}`},
		Security: status.Security{Mode: "key", Keys: 1, GossipAddr: "10.0.0.1:6783", StreamsRefused: 4},
		Rejected: []mesh.Rejection{{Owner: "h9", Kind: "endpoint", Count: 3, Last: "bad address"}},
		Firewall: status.Firewall{FromContainer: 5},
	}
	peers := []string{"weavego 1.2 on h1 (10.0.0.1)", "cluster key: key, 1 installed; gossip on 10.0.0.1:6783",
		"h1 (this host)  10.0.0.1", "h9             endpoint  3      bad address",
		"network net2 refused on this host: overlaps 10.1.0.0/16"}
	networks := []string{"NETWORK  VNI  SUBNET", "net1     7    10.32.0.0/24  10.32.0.1  2          h1,h2",
		"direct network dnet (macvlan 02:11:22:33:44:55):", "h2    10.0.0.2  direct",
		"h3    10.0.1.3  vxlan: not on this host's underlay segment"}
	ipam := []string{"IPAM range 10.32.0.0/12", "10.32.0.0/24  h1    254    2     252   16       true", "problem: range differs"}
	dns := []string{"DNS domain weave.local., 3 names, listening on 10.32.0.1:53",
		`daemon-wide in /etc/docker/daemon.json: {"dns": ["169.254.53.53"]}`, "docker run --dns 169.254.53.53 ...",
		"network net1 only: docker run --dns 10.32.0.1 --network net1"}
	for _, tt := range []struct {
		section string
		want    []string
	}{
		{"", append(append(append(append([]string{"no problems found"}, peers...), networks...), ipam...), dns...)},
		{"problems", []string{"no problems found"}},
		{"peers", peers},
		{"networks", networks},
		{"ipam", ipam},
		{"dns", dns},
		{"security", []string{"cluster key: key", "gossip refused before the key: 4 streams",
			"firewall dropped: 5 packets from containers"}},
	} {
		var b bytes.Buffer
		if err := render(&b, rep, tt.section); err != nil {
			t.Fatalf("section %q: %v", tt.section, err)
		}
		for _, w := range tt.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("section %q lacks %q:\n%s", tt.section, w, b.String())
			}
		}
	}
	if err := render(&bytes.Buffer{}, rep, "bogus"); err == nil || !strings.Contains(err.Error(), `unknown section "bogus"`) {
		t.Errorf("unknown section: %v", err)
	}
	var b bytes.Buffer
	if err := render(&b, status.Report{Version: "1.2", NotStarted: "no key", Problems: []status.Problem{{What: "no key"}}},
		""); err != nil || !strings.Contains(b.String(), "- no key\n") ||
		!strings.Contains(b.String(), "weavego 1.2 serves no network on this host until this is fixed") {
		t.Errorf("a refusing plugin: %v %q", err, b.String())
	}
}

func TestSectionJSON(t *testing.T) {
	rep := status.Report{Security: status.Security{Mode: "open"}, Problems: []status.Problem{{What: "x"}}}
	var b bytes.Buffer
	if err := sectionJSON(&b, rep, "security"); err != nil || !strings.Contains(b.String(), `"Mode": "open"`) {
		t.Errorf("security: %v %q", err, b.String())
	}
	if err := sectionJSON(&bytes.Buffer{}, rep, "bogus"); err == nil {
		t.Error("an unknown section printed")
	}
}

// At a thousand peers the whole status stays readable: one summary line, this host and the peers that are not
// alive, and a network's hosts counted; `weavego status peers` still lists every peer.
func TestRenderManyPeers(t *testing.T) {
	rep := status.Report{Version: "1.2", Cluster: reconcile.Status{Self: "h0000", VTEP: "10.0.0.1"}}
	var hosts []string
	for i := range 1000 {
		p := reconcile.PeerStatus{Name: fmt.Sprintf("h%04d", i), Addr: "10.0.0.1", State: mesh.StateAlive, Local: i == 0,
			Endpoints: 50}
		if i%250 == 7 {
			p.State = mesh.StateDead
		}
		rep.Cluster.Peers = append(rep.Cluster.Peers, p)
		hosts = append(hosts, p.Name)
	}
	rep.Cluster.Networks = []reconcile.NetworkStatus{{Name: "net1", VNI: 7, Hosts: hosts}}
	rep.Sync = mesh.SyncProgress{Exchanges: 1, Writers: 340, From: []string{"h0002"}}
	var b bytes.Buffer
	if err := render(&b, rep, ""); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"1000 peers (996 alive, 4 dead), 50000 endpoints", "h0000 (this host)", "h0007", "h0757",
		"1000 hosts", "sync: catching up, the records of 340 writers awaited from h0002"} {
		if !strings.Contains(out, want) {
			t.Errorf("whole status lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "h0001") || strings.Count(out, "\n") > 40 {
		t.Errorf("whole status lists alive peers or runs to %d lines:\n%s", strings.Count(out, "\n"), out)
	}
	b.Reset()
	if err := render(&b, rep, "peers"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "h0999") {
		t.Error("weavego status peers does not list every peer")
	}
}
