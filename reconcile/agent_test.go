package reconcile

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weavego/weavego/driver"
	"github.com/weavego/weavego/internal/dockerapi"
	"github.com/weavego/weavego/internal/record"
	"github.com/weavego/weavego/mesh/meshtest"
)

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type host struct {
	agent  *Agent
	local  *fakeLocal
	kernel *fakeKernel
	docker *fakeDocker
}

func newHost(t *testing.T, ctx context.Context, w *meshtest.Net, name, vtep string) *host {
	return newHostWithRoutes(t, ctx, w, name, vtep, nil)
}

func newHostWithRoutes(t *testing.T, ctx context.Context, w *meshtest.Net, name, vtep string, routes HostRoutes) *host {
	h := &host{kernel: newFakeKernel(), docker: &fakeDocker{networks: map[string]dockerapi.Network{}}, local: newFakeLocal()}
	w.Add(name, netip.MustParseAddr(vtep))
	h.agent = New(Config{VTEP: netip.MustParseAddr(vtep), Resync: 50 * time.Millisecond,
		Settle: 100 * time.Millisecond},
		Deps{Map: w.Peer(name), Local: h.local, Kernel: h.kernel, Docker: h.docker, HostRoutes: routes})
	h.local.cl = h.agent
	// The fake engine calls the driver's CreateNetwork, as Docker would.
	h.docker.onCreate = func(n dockerapi.Network) string {
		id := name + "-" + n.Name
		h.local.network(driver.Network{ID: id, Subnet: n.Subnet, Gateway: n.Gateway, VNI: parseVNI(n.Options["vni"]),
			Options: n.Options}, driver.Created)
		return id
	}
	go h.agent.Run(ctx)
	return h
}

func parseVNI(s string) uint32 {
	var v uint32
	for _, c := range s {
		v = v*10 + uint32(c-'0')
	}
	return v
}

// userCreates simulates `docker network create` on a host.
func (h *host) userCreates(id, name, subnet string, vni uint32) {
	sn := netip.MustParsePrefix(subnet)
	h.docker.mu.Lock()
	h.docker.networks[name] = dockerapi.Network{ID: id, Name: name, Subnet: sn}
	h.docker.mu.Unlock()
	h.local.network(driver.Network{ID: id, Subnet: sn, VNI: vni}, driver.Created)
}

func (h *host) has(name string) (dockerapi.Network, bool) {
	h.docker.mu.Lock()
	defer h.docker.mu.Unlock()
	n, ok := h.docker.networks[name]
	return n, ok
}

func TestNetworkSpreadsAndEndpointsReachKernels(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := meshtest.New(meshtest.Config{})
	a := newHost(t, ctx, w, "a", "192.0.2.1")
	b := newHost(t, ctx, w, "b", "192.0.2.2")

	a.userCreates("A1", "net1", "10.32.0.0/24", 100)
	eventually(t, "net1 on host b", func() bool { n, ok := b.has("net1"); return ok && n.Options["vni"] == "100" })

	a.local.endpoint(driver.Endpoint{ID: "ep1", NetworkID: "A1", Addr: netip.MustParsePrefix("10.32.0.2/24"),
		MAC: "02:77:0a:20:00:02"}, false)
	eventually(t, "remote endpoint in b's kernel", func() bool {
		r, f := b.kernel.get("b-net1")
		return len(r) == 1 && r[0].IP.String() == "10.32.0.2" && r[0].VTEP.String() == "192.0.2.1" &&
			len(f) == 1 && f[0].String() == "192.0.2.1"
	})
	if r, _ := a.kernel.get("A1"); len(r) != 0 {
		t.Fatalf("host a programmed its own endpoint as remote: %v", r)
	}

	// A host cut off is dead to the others: its endpoints leave their
	// kernels, and return when the cut heals.
	w.Partition([]string{"a"}, []string{"b"})
	eventually(t, "dead host's endpoint gone", func() bool { r, f := b.kernel.get("b-net1"); return len(r) == 0 && len(f) == 0 })
	w.Heal()
	eventually(t, "endpoint back", func() bool { r, _ := b.kernel.get("b-net1"); return len(r) == 1 })

	// Removing the endpoint removes it everywhere.
	a.local.endpoint(driver.Endpoint{ID: "ep1", NetworkID: "A1"}, true)
	eventually(t, "endpoint removed", func() bool { r, _ := b.kernel.get("b-net1"); return len(r) == 0 })

	// Removing the network on a removes it on b.
	a.docker.mu.Lock()
	delete(a.docker.networks, "net1")
	a.docker.mu.Unlock()
	a.local.network(driver.Network{ID: "A1", VNI: 100}, driver.Deleted)
	eventually(t, "net1 removed on b", func() bool { _, ok := b.has("net1"); return !ok })
}

func TestConcurrentCreateResolvesToOneDefinition(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := meshtest.New(meshtest.Config{})
	a := newHost(t, ctx, w, "a", "192.0.2.1")
	b := newHost(t, ctx, w, "b", "192.0.2.2")
	a.userCreates("A1", "net1", "10.32.0.0/24", 100)
	b.userCreates("B1", "net1", "10.32.1.0/24", 101)
	eventually(t, "one definition on both hosts", func() bool {
		na, okA := a.has("net1")
		nb, okB := b.has("net1")
		return okA && okB && na.Subnet == nb.Subnet
	})
}

func TestAssignVNI(t *testing.T) {
	w := meshtest.New(meshtest.Config{})
	ag := New(Config{}, Deps{Map: w.Peer("a"), Kernel: newFakeKernel()})
	w.Peer("b").Set(KindNetwork, "other", record.Encode(NetDef{Name: "other", Subnet: netip.MustParsePrefix("10.1.0.0/24"), VNI: 7}))
	if _, err := ag.AssignVNI(netip.MustParsePrefix("10.2.0.0/24"), 7, nil); err == nil {
		t.Fatal("VNI of another network accepted")
	}
	if v, err := ag.AssignVNI(netip.MustParsePrefix("10.1.0.0/24"), 7, nil); err != nil || v != 7 {
		t.Fatalf("same network's VNI refused: %v %v", v, err)
	}
	if _, err := ag.AssignVNI(netip.MustParsePrefix("10.4.0.0/24"), 8, map[uint32]string{8: "local network L1"}); err == nil ||
		!strings.Contains(err.Error(), "local network L1") {
		t.Fatalf("VNI of a local network accepted: %v", err)
	}
	v1, _ := ag.AssignVNI(netip.MustParsePrefix("10.3.0.0/24"), 0, nil)
	v2, _ := ag.AssignVNI(netip.MustParsePrefix("10.3.0.0/24"), 0, nil)
	if v1 == 0 || v1 != v2 || v1 >= 1<<24 {
		t.Fatalf("derived VNI not stable or out of range: %d %d", v1, v2)
	}
	if v3, _ := ag.AssignVNI(netip.MustParsePrefix("10.3.0.0/24"), 0, map[uint32]string{v1: "local network L1"}); v3 == v1 {
		t.Fatalf("derived VNI %d is taken by a local network", v3)
	}
}

func TestVXLANPeersFollowMembership(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := meshtest.New(meshtest.Config{})
	for i, name := range []string{"b", "c", "d"} {
		w.Add(name, netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 2)}))
	}
	w.Suspect("b")
	w.Kill("c")
	w.Leave("d")
	a := newHost(t, ctx, w, "a", "192.0.2.1")
	want := func(addrs ...string) func() bool {
		return func() bool {
			var s []string
			for _, p := range a.kernel.vxlanPeers() {
				s = append(s, p.String())
			}
			return slices.Equal(s, addrs)
		}
	}
	eventually(t, "alive and suspect members in the allowlist", want("192.0.2.1", "192.0.2.2"))
	// b dies, c comes back: the membership signal updates the allowlist.
	w.Kill("b")
	w.Start("c")
	eventually(t, "allowlist after a membership change", want("192.0.2.1", "192.0.2.3"))
}
