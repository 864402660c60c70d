package reconcile

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/weavego/weavego/driver"
	"github.com/weavego/weavego/internal/dockerapi"
	"github.com/weavego/weavego/internal/record"
	"github.com/weavego/weavego/mesh/meshtest"
)

// The Docker loop's decision for one local network against its cluster
// entry (syncLocalNetwork), case by case: host a holds net1 (10.32.0.0/24,
// VNI 100); host b, alive unless said otherwise, wrote the cluster entry.
func TestReconcileLocalNetwork(t *testing.T) {
	sn := netip.MustParsePrefix("10.32.0.0/24")
	ours := NetDef{Name: "net1", Subnet: sn, VNI: 100, Origin: "b"}
	other := NetDef{Name: "net1", Subnet: netip.MustParsePrefix("10.33.0.0/24"), VNI: 101, Origin: "b"}
	for _, tc := range []struct {
		name       string
		definedBy  string  // "" = this host (a); else the replica's origin
		stale      bool    // Config.StaleState
		entry      *NetDef // the cluster's entry written by b; nil = none
		deleted    bool    // b then removed it (a tombstone)
		containers int     // attached on a
		bDead      bool
		wantRemove bool
		wantOwner  string // owner of the entry afterwards; "" = no live entry
	}{
		{name: "removed elsewhere, containers attached: stays", definedBy: "b", entry: &ours, deleted: true, containers: 2},
		{name: "removed elsewhere, idle: removed", definedBy: "b", entry: &ours, deleted: true, wantRemove: true},
		{name: "replaced by another host's definition, idle: removed", definedBy: "b", entry: &other,
			wantRemove: true, wantOwner: "b"},
		{name: "replaced by another host's definition, in use: stays", definedBy: "b", entry: &other, containers: 1,
			wantOwner: "b"},
		{name: "same definition: kept as is", definedBy: "b", entry: &ours, wantOwner: "b"},
		{name: "definition gone, replica: removed once settled", definedBy: "b", wantRemove: true},
		{name: "definition gone, replica, alone: waits", definedBy: "b", bDead: true},
		{name: "definition gone, defined here: published again", wantOwner: "a"},
		{name: "definition gone, defined here, stale state: removed", stale: true, wantRemove: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := meshtest.New(meshtest.Config{})
			w.Add("a", netip.MustParseAddr("192.0.2.1"))
			b := w.Add("b", netip.MustParseAddr("192.0.2.2"))
			if tc.entry != nil {
				b.Set(KindNetwork, "net1", record.Encode(*tc.entry))
			}
			if tc.deleted {
				b.Delete(KindNetwork, "net1")
			}
			if tc.bDead {
				w.Kill("b")
			}
			docker, loc := &fakeDocker{networks: map[string]dockerapi.Network{}}, newFakeLocal()
			ag := New(Config{VTEP: netip.MustParseAddr("192.0.2.1"), Settle: time.Millisecond,
				StaleState: tc.stale}, Deps{Map: w.Peer("a"), Local: loc, Kernel: newFakeKernel(), Docker: docker})
			loc.cl = ag
			ag.started = time.Now().Add(-time.Second)
			n := dockerapi.Network{ID: "A1", Name: "net1", Subnet: sn, Containers: map[string]dockerapi.Attachment{}}
			for i := range tc.containers {
				n.Containers[string(rune('a'+i))] = dockerapi.Attachment{}
			}
			docker.networks["net1"] = n
			rec := driver.Network{ID: "A1", Subnet: sn, VNI: 100}
			if tc.definedBy != "" {
				rec.Options = map[string]string{OptReplica: tc.definedBy}
			}
			loc.network(rec, driver.Restored)

			ag.syncLocalNetwork(context.Background(), n, rec)

			if removed := slices.Contains(docker.removed, "net1"); removed != tc.wantRemove {
				t.Errorf("network removed = %v, want %v", removed, tc.wantRemove)
			}
			owner := ""
			if e, ok := w.Peer("a").Get(KindNetwork, "net1"); ok && !e.Deleted {
				owner = e.Owner
			}
			if owner != tc.wantOwner {
				t.Errorf("cluster entry owned by %q, want %q", owner, tc.wantOwner)
			}
		})
	}
}

// Entries whose owner is dead leave the kernel and DNS, and come back with
// their owner; the entries themselves stay in the replicated map.
func TestEntriesOfDeadOwners(t *testing.T) {
	w := meshtest.New(meshtest.Config{})
	w.Add("a", netip.MustParseAddr("192.0.2.1"))
	b := w.Add("b", netip.MustParseAddr("192.0.2.2"))
	k, dns, loc := newFakeKernel(), &fakeDNS{}, newFakeLocal()
	ag := New(Config{VTEP: netip.MustParseAddr("192.0.2.1")},
		Deps{Map: w.Peer("a"), Local: loc, Kernel: k, DNSTable: dns, DNSListeners: dns})
	loc.cl = ag
	loc.network(driver.Network{ID: "A1", Subnet: netip.MustParsePrefix("10.32.0.0/24"), VNI: 100}, driver.Restored)
	b.Set(KindEndpoint, "ep-b", record.Encode(EndpointRec{VNI: 100, IP: netip.MustParseAddr("10.32.0.5"),
		MAC: "02:00:00:00:00:05", VTEP: netip.MustParseAddr("192.0.2.2")}))
	b.Set(KindHostNet, "100/b", record.Encode(HostNetRec{VNI: 100, VTEP: netip.MustParseAddr("192.0.2.2")}))
	b.Set(KindName, "cid/100", record.Encode(NameRec{Names: []string{"web"}, IP: netip.MustParseAddr("10.32.0.5"),
		VNI: 100, Network: "net1"}))

	check := func(what string, want int) {
		t.Helper()
		if err := ag.reconcileKernel(); err != nil {
			t.Fatal(err)
		}
		ag.feedDNS()
		r, f := k.get("A1")
		if len(r) != want || len(f) != want || len(dns.records) != want {
			t.Fatalf("%s: %d remotes, %d flood targets, %d names; want %d of each", what, len(r), len(f),
				len(dns.records), want)
		}
	}
	check("owner alive", 1)
	w.Kill("b")
	check("owner dead", 0)
	if _, ok := w.Peer("a").Get(KindEndpoint, "ep-b"); !ok {
		t.Fatal("the dead owner's entry left the map")
	}
	w.Start("b")
	check("owner back", 1)
}

// TestRemotesIPv6 checks that a remote endpoint's IPv6 address becomes a
// second neighbour entry with the same MAC and VTEP on an IPv6 network,
// and is left out (the IPv4 one kept) where it does not fit; on an
// IPv6-only network it is the only entry, and a record that does not fit
// (outside the subnet, with IPv4, or without IPv4 on a network with IPv4)
// is skipped whole.
func TestRemotesIPv6(t *testing.T) {
	w := meshtest.New(meshtest.Config{})
	w.Add("a", netip.MustParseAddr("192.0.2.1"))
	b := w.Add("b", netip.MustParseAddr("192.0.2.2"))
	k, loc := newFakeKernel(), newFakeLocal()
	ag := New(Config{VTEP: netip.MustParseAddr("192.0.2.1")}, Deps{Map: w.Peer("a"), Local: loc, Kernel: k})
	loc.cl = ag
	loc.network(driver.Network{ID: "A1", Subnet: netip.MustParsePrefix("10.32.0.0/24"), VNI: 100,
		Subnet6: netip.MustParsePrefix("fd00:1::/64")}, driver.Restored)
	loc.network(driver.Network{ID: "A2", Subnet: netip.MustParsePrefix("10.33.0.0/24"), VNI: 200}, driver.Restored)
	loc.network(driver.Network{ID: "A3", VNI: 300, Subnet6: netip.MustParsePrefix("fd00:3::/64")}, driver.Restored) // IPv6-only
	vtep := netip.MustParseAddr("192.0.2.2")
	b.Set(KindEndpoint, "ep1", record.Encode(EndpointRec{VNI: 100, IP: netip.MustParseAddr("10.32.0.5"),
		IP6: netip.MustParseAddr("fd00:1::5"), MAC: "02:00:00:00:00:05", VTEP: vtep}))
	b.Set(KindEndpoint, "ep2", record.Encode(EndpointRec{VNI: 100, IP: netip.MustParseAddr("10.32.0.6"),
		IP6: netip.MustParseAddr("fd00:2::6"), MAC: "02:00:00:00:00:06", VTEP: vtep})) // outside the IPv6 subnet
	b.Set(KindEndpoint, "ep3", record.Encode(EndpointRec{VNI: 200, IP: netip.MustParseAddr("10.33.0.7"),
		IP6: netip.MustParseAddr("fd00:3::7"), MAC: "02:00:00:00:00:07", VTEP: vtep})) // IPv4-only network here
	b.Set(KindEndpoint, "ep4", record.Encode(EndpointRec{VNI: 300, IP6: netip.MustParseAddr("fd00:3::8"),
		MAC: "02:00:00:00:00:08", VTEP: vtep})) // IPv6-only network
	b.Set(KindEndpoint, "ep5", record.Encode(EndpointRec{VNI: 300, IP6: netip.MustParseAddr("fd00:4::9"),
		MAC: "02:00:00:00:00:09", VTEP: vtep})) // outside it
	b.Set(KindEndpoint, "ep6", record.Encode(EndpointRec{VNI: 300, IP: netip.MustParseAddr("10.34.0.10"),
		IP6: netip.MustParseAddr("fd00:3::a"), MAC: "02:00:00:00:00:0a", VTEP: vtep})) // IPv4 on an IPv6-only network
	b.Set(KindEndpoint, "ep7", record.Encode(EndpointRec{VNI: 200, IP6: netip.MustParseAddr("fd00:3::b"),
		MAC: "02:00:00:00:00:0b", VTEP: vtep})) // no IPv4 on a network with IPv4
	if err := ag.reconcileKernel(); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, id := range []string{"A1", "A2", "A3"} {
		r, _ := k.get(id)
		for _, x := range r {
			got[x.IP.String()] = id + " " + x.MAC.String() + " " + x.VTEP.String()
		}
	}
	want := map[string]string{
		"10.32.0.5": "A1 02:00:00:00:00:05 192.0.2.2", "fd00:1::5": "A1 02:00:00:00:00:05 192.0.2.2",
		"10.32.0.6": "A1 02:00:00:00:00:06 192.0.2.2",
		"10.33.0.7": "A2 02:00:00:00:00:07 192.0.2.2",
		"fd00:3::8": "A3 02:00:00:00:00:08 192.0.2.2",
	}
	if len(got) != len(want) {
		t.Fatalf("remotes %v, want %v", got, want)
	}
	for ip, w := range want {
		if got[ip] != w {
			t.Fatalf("remotes %v, want %v", got, want)
		}
	}
}
