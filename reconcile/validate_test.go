package reconcile

import (
	"encoding/json"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/weavego/weavego/internal/record"
	"github.com/weavego/weavego/mesh"
)

func goodNet() NetDef {
	return NetDef{Name: "net1", Subnet: netip.MustParsePrefix("10.1.0.0/24"), Gateway: netip.MustParseAddr("10.1.0.1"),
		VNI: 42, Origin: "host1"}
}

func goodEP() EndpointRec {
	return EndpointRec{VNI: 42, IP: netip.MustParseAddr("10.1.0.2"), MAC: "02:42:0a:01:00:02",
		VTEP: netip.MustParseAddr("192.0.2.1")}
}

func goodName() NameRec {
	return NameRec{Names: []string{"web"}, IP: netip.MustParseAddr("10.1.0.2"), VNI: 42, Network: "net1"}
}

func entry(kind, key, owner string, v any) mesh.Entry {
	b, ok := v.([]byte)
	if !ok {
		b, _ = json.Marshal(v)
	}
	return mesh.Entry{Kind: kind, Key: key, Owner: owner, Version: 1, Value: b}
}

func TestValidators(t *testing.T) {
	net := func(f func(*NetDef)) mesh.Entry { d := goodNet(); f(&d); return entry(KindNetwork, d.Name, "h", d) }
	ep := func(f func(*EndpointRec)) mesh.Entry {
		r := goodEP()
		f(&r)
		return entry(KindEndpoint, "abc123", "h", r)
	}
	name := func(f func(*NameRec)) mesh.Entry { r := goodName(); f(&r); return entry(KindName, "c1/42", "h", r) }
	host := func(key, owner string, r HostNetRec) mesh.Entry { return entry(KindHostNet, key, owner, r) }
	vtep := netip.MustParseAddr("192.0.2.1")
	wgKey := "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
	for _, tc := range []struct {
		name string
		e    mesh.Entry
		want string // "" = accepted
	}{
		{"good network", net(func(*NetDef) {}), ""},
		{"metadata subnet", net(func(d *NetDef) {
			d.Subnet, d.Gateway = netip.MustParsePrefix("169.254.169.0/24"), netip.MustParseAddr("169.254.169.1")
		}), "link-local"},
		{"loopback subnet", net(func(d *NetDef) { d.Subnet, d.Gateway = netip.MustParsePrefix("127.0.0.0/24"), netip.Addr{} }), "loopback"},
		{"multicast subnet", net(func(d *NetDef) { d.Subnet, d.Gateway = netip.MustParsePrefix("224.1.0.0/24"), netip.Addr{} }), "multicast"},
		{"gateway outside", net(func(d *NetDef) { d.Gateway = netip.MustParseAddr("10.2.0.1") }), "outside"},
		{"gateway is broadcast", net(func(d *NetDef) { d.Gateway = netip.MustParseAddr("10.1.0.255") }), "broadcast"},
		{"range outside", net(func(d *NetDef) { d.IPRange = netip.MustParsePrefix("10.9.0.0/25") }), "not inside"},
		{"VNI 0", net(func(d *NetDef) { d.VNI = 0 }), "VNI"},
		{"VNI too big", net(func(d *NetDef) { d.VNI = 1 << 24 }), "VNI"},
		{"name differs from key", entry(KindNetwork, "other", "h", goodNet()), "stored under"},
		{"bad network name", entry(KindNetwork, "a/b", "h", goodNet()), "network name"},
		{"network not JSON", entry(KindNetwork, "net1", "h", []byte("{")), "JSON"},
		{"network tombstone", mesh.Entry{Kind: KindNetwork, Key: "net1", Owner: "h", Version: 2, Deleted: true}, ""},
		{"good endpoint", ep(func(*EndpointRec) {}), ""},
		{"endpoint with IPv6", ep(func(r *EndpointRec) { r.IP6 = netip.MustParseAddr("fd77:6561:7665::2") }), ""},
		{"endpoint with link-local IPv6", ep(func(r *EndpointRec) { r.IP6 = netip.MustParseAddr("fe80::2") }), "link-local"},
		{"endpoint with multicast IPv6", ep(func(r *EndpointRec) { r.IP6 = netip.MustParseAddr("ff02::1") }), "multicast"},
		{"endpoint with IPv4 as IPv6", ep(func(r *EndpointRec) { r.IP6 = netip.MustParseAddr("10.1.0.2") }), "not a global"},
		{"endpoint with mapped IPv6", ep(func(r *EndpointRec) { r.IP6 = netip.MustParseAddr("::ffff:10.1.0.2") }), "not a global"},
		{"endpoint with IPv6 zone", entry(KindEndpoint, "abc123", "h",
			[]byte(`{"VNI":42,"IP":"10.1.0.2","MAC":"02:42:0a:01:00:02","VTEP":"192.0.2.1","IP6":"fd00::2%eth0"}`)), "not a global"},
		{"endpoint IPv6 not an address", entry(KindEndpoint, "abc123", "h",
			[]byte(`{"VNI":42,"IP":"10.1.0.2","MAC":"02:42:0a:01:00:02","VTEP":"192.0.2.1","IP6":"banana"}`)), "JSON"},
		{"IPv6 network", net(func(d *NetDef) {
			d.Subnet6, d.Gateway6 = netip.MustParsePrefix("fd00:1::/64"), netip.MustParseAddr("fd00:1::1")
		}), ""},
		{"IPv6 network multicast", net(func(d *NetDef) { d.Subnet6 = netip.MustParsePrefix("ff05::/64") }), "multicast"},
		{"IPv6 gateway outside", net(func(d *NetDef) {
			d.Subnet6, d.Gateway6 = netip.MustParsePrefix("fd00:1::/64"), netip.MustParseAddr("fd00:2::1")
		}), "outside"},
		{"IPv6 gateway without subnet", net(func(d *NetDef) { d.Gateway6 = netip.MustParseAddr("fd00:2::1") }), "without an IPv6 subnet"},
		{"IPv6 range outside", net(func(d *NetDef) {
			d.Subnet6, d.IPRange6 = netip.MustParsePrefix("fd00:1::/64"), netip.MustParsePrefix("fd00:2::/80")
		}), "not inside"},
		{"name with IPv6", name(func(r *NameRec) { r.IP6 = netip.MustParseAddr("fd00:1::2") }), ""},
		{"name on an IPv6-only network", name(func(r *NameRec) { r.IP, r.IP6 = netip.Addr{}, netip.MustParseAddr("fd00:1::2") }), ""},
		{"name without address", name(func(r *NameRec) { r.IP = netip.Addr{} }), "missing"},
		{"endpoint on an IPv6-only network", ep(func(r *EndpointRec) { r.IP, r.IP6 = netip.Addr{}, netip.MustParseAddr("fd00:1::2") }), ""},
		{"endpoint without address", ep(func(r *EndpointRec) { r.IP = netip.Addr{} }), "missing"},
		{"IPv6-only network", net(func(d *NetDef) {
			d.Subnet, d.Gateway, d.IPRange = netip.Prefix{}, netip.Addr{}, netip.Prefix{}
			d.Subnet6, d.Gateway6 = netip.MustParsePrefix("fd00:1::/64"), netip.MustParseAddr("fd00:1::1")
		}), ""},
		{"IPv4 gateway without IPv4 subnet", net(func(d *NetDef) {
			d.Subnet, d.IPRange = netip.Prefix{}, netip.Prefix{}
			d.Subnet6 = netip.MustParsePrefix("fd00:1::/64")
		}), "subnet is missing"},
		{"no subnet at all", net(func(d *NetDef) { d.Subnet, d.Gateway, d.IPRange = netip.Prefix{}, netip.Addr{}, netip.Prefix{} }), "subnet is missing"},
		{"name with loopback IPv6", name(func(r *NameRec) { r.IP6 = netip.MustParseAddr("::1") }), "reserved"},
		{"8-byte MAC", ep(func(r *EndpointRec) { r.MAC = "02:42:0a:01:00:02:00:01" }), "6-byte"},
		{"multicast MAC", ep(func(r *EndpointRec) { r.MAC = "01:00:5e:00:00:01" }), "multicast"},
		{"loopback IP", ep(func(r *EndpointRec) { r.IP = netip.MustParseAddr("127.0.0.1") }), "loopback"},
		{"multicast VTEP", ep(func(r *EndpointRec) { r.VTEP = netip.MustParseAddr("239.1.1.1") }), "multicast"},
		{"no VTEP", ep(func(r *EndpointRec) { r.VTEP = netip.Addr{} }), "unicast underlay"},
		{"bad endpoint ID", entry(KindEndpoint, "a b", "h", goodEP()), "Docker ID"},
		{"good hostnet", host("42/h", "h", HostNetRec{VNI: 42, VTEP: vtep}), ""},
		{"hostnet for another host", host("42/other", "h", HostNetRec{VNI: 42, VTEP: vtep}), "announces"},
		{"hostnet VNI mismatch", host("42/h", "h", HostNetRec{VNI: 43, VTEP: vtep}), "keyed"},
		{"hostnet bad key", host("x/h", "h", HostNetRec{VNI: 42, VTEP: vtep}), "decimal"},
		{"hostnet VNI 0", host("0/h", "h", HostNetRec{VTEP: vtep}), "VNI"},
		{"hostnet with WireGuard", host("42/h", "h", HostNetRec{VNI: 42, VTEP: vtep, WGKey: wgKey, WGPort: 6784}), ""},
		{"hostnet WireGuard key short", host("42/h", "h", HostNetRec{VNI: 42, VTEP: vtep, WGKey: "AAAA", WGPort: 6784}),
			"public key"},
		{"hostnet WireGuard key zero", host("42/h", "h", HostNetRec{VNI: 42, VTEP: vtep,
			WGKey: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", WGPort: 6784}), "public key"},
		{"hostnet WireGuard port 0", host("42/h", "h", HostNetRec{VNI: 42, VTEP: vtep, WGKey: wgKey}), "port"},
		{"hostnet WireGuard port high", host("42/h", "h", HostNetRec{VNI: 42, VTEP: vtep, WGKey: wgKey, WGPort: 65536}), "port"},
		{"hostnet WireGuard port alone", host("42/h", "h", HostNetRec{VNI: 42, VTEP: vtep, WGPort: 6784}), "without a key"},
		{"hostnet direct", host("42/h", "h", HostNetRec{VNI: 42, VTEP: vtep, DirectMAC: "02:11:22:33:44:55"}), ""},
		{"hostnet direct multicast", host("42/h", "h", HostNetRec{VNI: 42, VTEP: vtep, DirectMAC: "03:11:22:33:44:55"}),
			"unicast"},
		{"hostnet direct zero", host("42/h", "h", HostNetRec{VNI: 42, VTEP: vtep, DirectMAC: "00:00:00:00:00:00"}), "unicast"},
		{"hostnet direct long", host("42/h", "h", HostNetRec{VNI: 42, VTEP: vtep,
			DirectMAC: "02:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01"}), "unicast"},
		{"hostnet direct junk", host("42/h", "h", HostNetRec{VNI: 42, VTEP: vtep, DirectMAC: "not a mac"}), "unicast"},
		{"good name", name(func(*NameRec) {}), ""},
		{"dotted name", name(func(r *NameRec) { r.Names = []string{"github.com"} }), ""},
		{"bad label", name(func(r *NameRec) { r.Names = []string{"git hub.com"} }), "label"},
		{"long label", name(func(r *NameRec) { r.Names = []string{strings.Repeat("a", 64)} }), "label"},
		{"too many names", name(func(r *NameRec) { r.Names = make([]string, maxNames+1) }), "names"},
		{"no names", name(func(r *NameRec) { r.Names = nil }), "names"},
		{"name with multicast IP", name(func(r *NameRec) { r.IP = netip.MustParseAddr("224.0.0.1") }), "multicast"},
		{"name VNI mismatch", name(func(r *NameRec) { r.VNI = 7 }), "keyed"},
		{"name bad network", name(func(r *NameRec) { r.Network = "" }), "network name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Validators()[tc.e.Kind](tc.e)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// FuzzValidateNetwork checks that the network validator never panics and
// never admits a definition whose subnet, gateway or VNI breaks the rules.
func FuzzValidateNetwork(f *testing.F) {
	good, _ := json.Marshal(goodNet())
	f.Add("net1", good)
	f.Add("net1", []byte(`{"Name":"net1","Subnet":"169.254.169.0/24","VNI":1}`))
	f.Add("x", []byte(`{"Name":"x","Subnet":"10.0.0.0/8","Gateway":"10.255.255.255","VNI":16777215}`))
	f.Fuzz(func(t *testing.T, key string, value []byte) {
		e := mesh.Entry{Kind: KindNetwork, Key: key, Owner: "h", Version: 1, Value: value}
		if validateNetwork(e) != nil {
			return
		}
		var d NetDef
		if err := json.Unmarshal(value, &d); err != nil {
			t.Fatalf("admitted a value that is not JSON: %q", value)
		}
		s := d.Subnet
		if !s.IsValid() && d.Subnet6.IsValid() && !d.Gateway.IsValid() && !d.IPRange.IsValid() {
			s = netip.MustParsePrefix("10.0.0.0/24") // IPv6-only: no IPv4 part to check
		}
		bad := !s.Addr().Is4() || s.Bits() < 8 || s.Bits() > 30 || s.Masked() != s || d.VNI == 0 || d.VNI >= 1<<24 ||
			!s.Addr().IsGlobalUnicast() && !s.Addr().IsPrivate() || s.Addr().IsLoopback() || s.Addr().IsLinkLocalUnicast() ||
			s.Overlaps(netip.MustParsePrefix("224.0.0.0/3")) || s.Overlaps(netip.MustParsePrefix("0.0.0.0/8")) ||
			d.Gateway.IsValid() && (!s.Contains(d.Gateway) || d.Gateway == s.Addr()) || d.Name != key
		if bad {
			t.Fatalf("admitted %q = %+v", key, d)
		}
	})
}

// FuzzValidateEndpoint checks the endpoint validator the same way.
func FuzzValidateEndpoint(f *testing.F) {
	good, _ := json.Marshal(goodEP())
	f.Add(good)
	f.Add([]byte(`{"VNI":1,"IP":"10.0.0.2","MAC":"02:42:0a:01:00:02:00:01","VTEP":"192.0.2.1"}`))
	f.Add([]byte(`{"VNI":1,"IP":"10.0.0.2","MAC":"02:42:0a:01:00:02","VTEP":"192.0.2.1","IP6":"fd00::2"}`))
	f.Add([]byte(`{"VNI":1,"IP":"10.0.0.2","MAC":"02:42:0a:01:00:02","VTEP":"192.0.2.1","IP6":"fe80::2%1"}`))
	f.Fuzz(func(t *testing.T, value []byte) {
		e := mesh.Entry{Kind: KindEndpoint, Key: "ep1", Owner: "h", Version: 1, Value: value}
		if validateEndpoint(e) != nil {
			return
		}
		var r EndpointRec
		_ = json.Unmarshal(value, &r)
		mac, err := parseMACStd(r.MAC)
		if err != nil || len(mac) != 6 || mac[0]&1 != 0 || r.VNI == 0 || r.VNI >= 1<<24 ||
			!r.IP.Is4() && !(!r.IP.IsValid() && r.IP6.IsValid()) || r.IP.IsLoopback() || r.IP.IsMulticast() || r.IP.IsLinkLocalUnicast() || !r.VTEP.IsValid() ||
			r.IP6.IsValid() && (!r.IP6.Is6() || r.IP6.Is4In6() || r.IP6.Zone() != "" || r.IP6.IsLoopback() ||
				r.IP6.IsMulticast() || r.IP6.IsLinkLocalUnicast() || r.IP6.IsUnspecified()) {
			t.Fatalf("admitted %+v", r)
		}
	})
}

func parseMACStd(s string) (net.HardwareAddr, error) { return net.ParseMAC(s) }

// TestPreviousReleaseReadsIPv6Records decodes this release's IPv6 records
// the way the release before IPv6 does (strictDecode into its types, which
// lack the IPv6 fields): they are accepted, and read as their IPv4 part.
func TestPreviousReleaseReadsIPv6Records(t *testing.T) {
	type oldEndpointRec struct {
		VNI  uint32
		IP   netip.Addr
		MAC  string
		VTEP netip.Addr
	}
	type oldNetDef struct {
		Name     string
		Subnet   netip.Prefix
		Gateway  netip.Addr
		IPRange  netip.Prefix `json:",omitempty"`
		VNI      uint32
		MTU      int               `json:",omitempty"`
		Internal bool              `json:",omitempty"`
		Options  map[string]string `json:",omitempty"`
		Origin   string
	}
	ep := goodEP()
	ep.IP6 = netip.MustParseAddr("fd77:6561:7665::2")
	old, err := record.Strict[oldEndpointRec](record.Encode(ep))
	if err != nil || old.IP != ep.IP || old.MAC != ep.MAC || old.VTEP != ep.VTEP {
		t.Fatalf("old release reads endpoint %+v, %v", old, err)
	}
	def := goodNet()
	def.Subnet6, def.Gateway6 = netip.MustParsePrefix("fd77:6561:7665::/64"), netip.MustParseAddr("fd77:6561:7665::1")
	oldDef, err := record.Strict[oldNetDef](record.Encode(def))
	if err != nil || oldDef.Subnet != def.Subnet || oldDef.VNI != def.VNI {
		t.Fatalf("old release reads network %+v, %v", oldDef, err)
	}
	// An IPv4-only record is what the previous release wrote, byte for byte.
	v4, _ := json.Marshal(oldEndpointRec{VNI: 42, IP: goodEP().IP, MAC: goodEP().MAC, VTEP: goodEP().VTEP})
	if got := record.Encode(goodEP()); string(got) != string(v4) {
		t.Fatalf("IPv4-only endpoint record changed: %s, was %s", got, v4)
	}
}

// TestMeshAdmitsOnlyValidRecords merges the shapes of the issue through a
// real mesh with the agent's validators.
func TestMeshAdmitsOnlyValidRecords(t *testing.T) {
	m, err := mesh.New(mesh.Config{Name: "self", BindAddr: "127.0.0.1", BindPort: -1,
		Validators: Validators()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	meta := goodNet()
	meta.Name, meta.Subnet, meta.Gateway = "meta", netip.MustParsePrefix("169.254.169.0/24"), netip.MustParseAddr("169.254.169.1")
	badMAC := goodEP()
	badMAC.MAC = "02:42:0a:01:00:02:00:01"
	hijack := goodName()
	hijack.Names = []string{"github .com"}
	restore := []mesh.Entry{
		entry(KindNetwork, "meta", "evil", meta),
		entry(KindNetwork, "net1", "h", goodNet()),
		entry(KindEndpoint, "bad", "evil", badMAC),
		entry(KindEndpoint, "good", "h", goodEP()),
		entry(KindName, "c1/42", "evil", hijack),
		{Kind: KindNetwork, Key: "net2", Owner: "evil", Version: 1<<64 - 1, Value: record.Encode(goodNet())},
	}
	m.Restore(restore)
	if n := m.List(KindNetwork); len(n) != 1 || n[0].Key != "net1" {
		t.Fatalf("networks held: %+v", n)
	}
	if e := m.List(KindEndpoint); len(e) != 1 || e[0].Key != "good" {
		t.Fatalf("endpoints held: %+v", e)
	}
	if len(m.List(KindName)) != 0 {
		t.Fatal("name with an invalid label held")
	}
	var n uint64
	for _, r := range m.Rejected() {
		if r.Owner != "evil" {
			t.Errorf("rejection of %s: %+v", r.Owner, r)
		}
		n += r.Count
	}
	if n != 4 {
		t.Fatalf("%d rejections, want 4", n)
	}
}

// TestHostNetRecPreviousRelease shows what a host of the release before
// encryption does with a record that carries a WireGuard key: its record
// type has no such fields, and its decoder (strictDecode, unchanged) skips
// them; the record is admitted and read as before.
func TestHostNetRecPreviousRelease(t *testing.T) {
	type previousHostNetRec struct {
		VNI  uint32
		VTEP netip.Addr
	}
	vtep := netip.MustParseAddr("192.0.2.1")
	b, _ := json.Marshal(HostNetRec{VNI: 42, VTEP: vtep, WGKey: "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=", WGPort: 6784,
		DirectMAC: "02:11:22:33:44:55"})
	old, err := record.Strict[previousHostNetRec](b)
	if err != nil || old.VNI != 42 || old.VTEP != vtep {
		t.Fatalf("previous release reads %+v, %v", old, err)
	}
	if _, ok := record.Decode[previousHostNetRec](b); !ok {
		t.Fatal("previous release's decode refuses the record")
	}
	plain, _ := json.Marshal(HostNetRec{VNI: 42, VTEP: vtep})
	if strings.Contains(string(plain), "WG") || strings.Contains(string(plain), "Direct") {
		t.Errorf("a record without WireGuard carries its fields: %s", plain)
	}
}
