package reconcile

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"github.com/weavego/weavego/dnsd"
	"github.com/weavego/weavego/driver"
	"github.com/weavego/weavego/internal/dockerapi"
	"github.com/weavego/weavego/internal/record"
	"github.com/weavego/weavego/mesh/meshtest"
)

type fakeDNS struct {
	records []dnsd.Record
	members []dnsd.Member
	served  []dnsd.Served
}

func (f *fakeDNS) Replace(r []dnsd.Record, m []dnsd.Member) error {
	f.records, f.members = r, m
	return nil
}
func (f *fakeDNS) SetNetworks(n []dnsd.Served) error { f.served = n; return nil }

func TestFeedDNS(t *testing.T) {
	w := meshtest.New(meshtest.Config{})
	dns, loc := &fakeDNS{}, newFakeLocal()
	a := New(Config{},
		Deps{Map: w.Peer("h1"), Local: loc, DNSTable: dns, DNSListeners: dns})
	loc.cl = a
	other := w.Peer("h2")
	other.Set(KindName, "cid2/7", record.Encode(NameRec{Names: []string{"web", "www"}, IP: netip.MustParseAddr("10.32.1.2"), VNI: 7, Network: "net2"}))
	loc.network(driver.Network{ID: "n1", Subnet: netip.MustParsePrefix("10.32.0.0/24"),
		Gateway: netip.MustParseAddr("10.32.0.1"), VNI: 5}, driver.Restored)
	loc.network(driver.Network{ID: "n2", Subnet: netip.MustParsePrefix("10.32.1.0/24"),
		Gateway: netip.MustParseAddr("10.32.1.1"), VNI: 7, Internal: true,
		Subnet6: netip.MustParsePrefix("fd00:7::/64"), Gateway6: netip.MustParseAddr("fd00:7::1")}, driver.Restored)
	loc.endpoint(driver.Endpoint{ID: "e1", NetworkID: "n1", Addr: netip.MustParsePrefix("10.32.0.9/24"),
		Joined: true, SandboxKey: "/run/docker/netns/abc"}, false)
	loc.endpoint(driver.Endpoint{ID: "e2", NetworkID: "n2", Addr: netip.MustParsePrefix("10.32.1.9/24")}, false)
	a.feedDNS()

	want := []dnsd.Record{
		{Name: "web", IP: netip.MustParseAddr("10.32.1.2"), Network: "net2", VNI: 7, Container: "cid2"},
		{Name: "www", IP: netip.MustParseAddr("10.32.1.2"), Network: "net2", VNI: 7, Container: "cid2"},
	}
	if len(dns.records) != 2 || dns.records[0].Container != "cid2" || dns.records[1].VNI != 7 ||
		dns.records[0].IP != want[0].IP || dns.records[1].Name != "www" {
		t.Errorf("records %+v, want %+v", dns.records, want)
	}
	// Only the joined endpoint is a member, under its sandbox.
	wantM := []dnsd.Member{{Owner: "sandbox /run/docker/netns/abc", VNI: 5, IP: netip.MustParseAddr("10.32.0.9")}}
	if !slices.Equal(dns.members, wantM) {
		t.Errorf("members %+v, want %+v", dns.members, wantM)
	}
	if len(dns.served) != 2 || dns.served[0].VNI != 5 || dns.served[1].Subnet.String() != "10.32.1.0/24" ||
		dns.served[1].Gateway.String() != "10.32.1.1" || dns.served[0].Internal || !dns.served[1].Internal ||
		dns.served[0].Gateway6.IsValid() || dns.served[1].Subnet6.String() != "fd00:7::/64" ||
		dns.served[1].Gateway6.String() != "fd00:7::1" {
		t.Errorf("served %+v", dns.served)
	}
}

// TestFeedDNSIPv6 checks that a name record's IPv6 address becomes an AAAA
// record (and its PTR) beside the A one, under the same name, network and
// container, and that a joined endpoint's IPv6 address is a member too.
func TestFeedDNSIPv6(t *testing.T) {
	w := meshtest.New(meshtest.Config{})
	dns, loc := &fakeDNS{}, newFakeLocal()
	a := New(Config{}, Deps{Map: w.Peer("h1"), Local: loc, DNSTable: dns, DNSListeners: dns})
	loc.cl = a
	ip4, ip6 := netip.MustParseAddr("10.32.1.2"), netip.MustParseAddr("fd00:1::2")
	w.Peer("h2").Set(KindName, "cid2/7", record.Encode(NameRec{Names: []string{"web"}, IP: ip4, IP6: ip6, VNI: 7, Network: "net2"}))
	loc.network(driver.Network{ID: "n2", Subnet: netip.MustParsePrefix("10.32.1.0/24"), VNI: 7,
		Subnet6: netip.MustParsePrefix("fd00:1::/64")}, driver.Restored)
	loc.endpoint(driver.Endpoint{ID: "e1", NetworkID: "n2", Addr: netip.MustParsePrefix("10.32.1.9/24"),
		Addr6: netip.MustParsePrefix("fd00:1::9/64"), Joined: true, SandboxKey: "/run/docker/netns/abc"}, false)
	a.feedDNS()
	want := []dnsd.Record{
		{Name: "web", IP: ip4, Network: "net2", VNI: 7, Container: "cid2"},
		{Name: "web", IP: ip6, Network: "net2", VNI: 7, Container: "cid2"},
	}
	if !slices.Equal(dns.records, want) {
		t.Errorf("records %+v, want %+v", dns.records, want)
	}
	owner := "sandbox /run/docker/netns/abc"
	wantM := []dnsd.Member{{Owner: owner, VNI: 7, IP: netip.MustParseAddr("10.32.1.9")}, {Owner: owner, VNI: 7, IP: netip.MustParseAddr("fd00:1::9")}}
	if !slices.Equal(dns.members, wantM) {
		t.Errorf("members %+v, want %+v", dns.members, wantM)
	}
	table := dnsdTable(t, dns)
	if got := table.Lookup("web"); len(got) != 2 || got[1] != ip6 {
		t.Errorf("dnsd has web as %v, want %s and %s", got, ip4, ip6)
	}
}

// dnsdTable loads what the agent fed f into a real dnsd table.
func dnsdTable(t *testing.T, f *fakeDNS) *dnsd.Table {
	t.Helper()
	tb := dnsd.NewTable()
	if err := tb.Replace(f.records, f.members); err != nil {
		t.Fatal(err)
	}
	return tb
}

// TestSyncNamesIPv6 checks that a container's IPv6 address on a --ipv6
// network is published with its names, and that one outside the
// network's IPv6 subnet is not.
func TestSyncNamesIPv6(t *testing.T) {
	w := meshtest.New(meshtest.Config{})
	loc := newFakeLocal()
	a := New(Config{}, Deps{Map: w.Peer("h1"), Local: loc, Docker: &fakeDocker{networks: map[string]dockerapi.Network{}}})
	loc.cl = a
	loc.network(driver.Network{ID: "n6", Subnet: netip.MustParsePrefix("10.32.1.0/24"), VNI: 7,
		Subnet6: netip.MustParsePrefix("fd00:1::/64")}, driver.Restored)
	a.syncNames(context.Background(), []dockerapi.Network{{ID: "n6", Name: "net6", Containers: map[string]dockerapi.Attachment{
		"c1": {Name: "web", IP: netip.MustParseAddr("10.32.1.2"), IP6: netip.MustParseAddr("fd00:1::2")},
		"c2": {Name: "db", IP: netip.MustParseAddr("10.32.1.3"), IP6: netip.MustParseAddr("fd00:9::3")},
	}}})
	for key, want := range map[string]string{"c1/7": "fd00:1::2", "c2/7": "invalid IP"} {
		e, ok := w.Peer("h1").Get(KindName, key)
		rec, _ := record.Decode[NameRec](e.Value)
		if !ok || rec.IP6.String() != want {
			t.Errorf("name record %s: IPv6 %s, want %s", key, rec.IP6, want)
		}
	}
}

// TestFeedDNSIPv6Only: a name on an IPv6-only network (no IPv4 address) is
// an AAAA record only, and a joined endpoint there a member by its IPv6
// address; the network is served by its IPv6 subnet and gateway.
func TestFeedDNSIPv6Only(t *testing.T) {
	w := meshtest.New(meshtest.Config{})
	dns, loc := &fakeDNS{}, newFakeLocal()
	a := New(Config{}, Deps{Map: w.Peer("h1"), Local: loc, DNSTable: dns, DNSListeners: dns})
	loc.cl = a
	w.Peer("h2").Set(KindName, "cid2/9", record.Encode(NameRec{Names: []string{"web"}, IP6: netip.MustParseAddr("fd00:9::2"), VNI: 9, Network: "v6"}))
	loc.network(driver.Network{ID: "n9", VNI: 9, Subnet6: netip.MustParsePrefix("fd00:9::/64"),
		Gateway6: netip.MustParseAddr("fd00:9::1")}, driver.Restored)
	loc.endpoint(driver.Endpoint{ID: "e9", NetworkID: "n9", Addr6: netip.MustParsePrefix("fd00:9::5/64"),
		Joined: true, SandboxKey: "/run/docker/netns/x"}, false)
	a.feedDNS()
	if len(dns.records) != 1 || dns.records[0].IP != netip.MustParseAddr("fd00:9::2") || dns.records[0].Container != "cid2" {
		t.Errorf("records %+v, want web's IPv6 address only", dns.records)
	}
	if len(dns.members) != 1 || dns.members[0].IP != netip.MustParseAddr("fd00:9::5") {
		t.Errorf("members %+v, want the sandbox by its IPv6 address", dns.members)
	}
	if len(dns.served) != 1 || dns.served[0].Subnet.IsValid() || dns.served[0].Gateway6 != netip.MustParseAddr("fd00:9::1") {
		t.Errorf("served %+v, want the IPv6-only network by its IPv6 gateway", dns.served)
	}
}
