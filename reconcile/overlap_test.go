package reconcile

import (
	"context"
	"net/netip"
	"testing"

	"github.com/weavego/weavego/datapath"
	"github.com/weavego/weavego/mesh/meshtest"
)

type fakeRoutes []datapath.HostRoute

func (f fakeRoutes) HostRoutes() ([]datapath.HostRoute, error) { return f, nil }

func TestNetworkOverlappingHostRouteRefused(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := meshtest.New(meshtest.Config{})
	a := newHost(t, ctx, w, "a", "192.0.2.1")
	routes := fakeRoutes{{Prefix: netip.MustParsePrefix("10.32.0.0/16"), Dev: "eth0", Source: "route"}}
	b := newHostWithRoutes(t, ctx, w, "b", "192.0.2.2", routes)
	a.userCreates("A1", "net1", "10.32.5.0/24", 100)
	a.userCreates("A2", "net2", "10.50.0.0/24", 101)
	refusal := func() string {
		for _, n := range b.agent.Status().Networks {
			if n.Name == "net1" {
				return n.Refused
			}
		}
		return ""
	}
	eventually(t, "net2 on host b and net1 refused", func() bool { _, ok := b.has("net2"); return ok && refusal() != "" })
	if _, ok := b.has("net1"); ok {
		t.Fatal("host b created net1, whose subnet overlaps its route 10.32.0.0/16")
	}
	why := refusal()
	if why != "subnet overlaps this host's route 10.32.0.0/16 on eth0" {
		t.Fatalf("status of net1 on b says Refused=%q", why)
	}
}
