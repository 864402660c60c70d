package reconcile

import (
	"net"
	"net/netip"
	"testing"

	"github.com/weavego/weavego/driver"
	"github.com/weavego/weavego/internal/record"
	"github.com/weavego/weavego/mesh/meshtest"
)

// TestDirectRecords: a direct network publishes this host's macvlan MAC in its hostnet record (a plain one
// does not), and the remotes of a host that published one carry it to the kernel; a host that published
// none (an older weavego, or the network is not direct there) gives remotes without it.
func TestDirectRecords(t *testing.T) {
	w := meshtest.New(meshtest.Config{})
	w.Add("a", netip.MustParseAddr("192.0.2.1"))
	b := w.Add("b", netip.MustParseAddr("192.0.2.2"))
	c := w.Add("c", netip.MustParseAddr("192.0.2.3"))
	k, loc := newFakeKernel(), newFakeLocal()
	k.direct = map[string]net.HardwareAddr{"A1": {0x02, 0, 0, 0, 0, 0xa1}, "A2": {0x02, 0, 0, 0, 0, 0xa2}}
	ag := New(Config{VTEP: netip.MustParseAddr("192.0.2.1")}, Deps{Map: w.Peer("a"), Local: loc, Kernel: k})
	loc.cl = ag
	loc.network(driver.Network{ID: "A1", Subnet: netip.MustParsePrefix("10.32.0.0/24"), VNI: 100,
		Options: map[string]string{driver.OptDirect: ""}}, driver.Restored)
	loc.network(driver.Network{ID: "A2", Subnet: netip.MustParsePrefix("10.33.0.0/24"), VNI: 200}, driver.Restored)
	for _, h := range []struct {
		p    *meshtest.Peer
		name string
		vtep string
		mac  string
		ip   string
	}{{b, "b", "192.0.2.2", "02:00:00:00:00:b1", "10.32.0.5"}, {c, "c", "192.0.2.3", "", "10.32.0.6"}} {
		vtep := netip.MustParseAddr(h.vtep)
		h.p.Set(KindEndpoint, "ep-"+h.name, record.Encode(EndpointRec{VNI: 100, IP: netip.MustParseAddr(h.ip),
			MAC: "02:42:00:00:00:0" + h.name, VTEP: vtep}))
		h.p.Set(KindHostNet, "100/"+h.name, record.Encode(HostNetRec{VNI: 100, VTEP: vtep, DirectMAC: h.mac}))
	}
	if err := ag.reconcileKernel(); err != nil {
		t.Fatal(err)
	}
	r, _ := k.get("A1")
	got := map[string]string{}
	for _, x := range r {
		got[x.IP.String()] = x.DirectMAC.String()
	}
	if got["10.32.0.5"] != "02:00:00:00:00:b1" || got["10.32.0.6"] != "" || len(got) != 2 {
		t.Errorf("remotes' direct MACs %v, want b's on 10.32.0.5 and none on 10.32.0.6", got)
	}
	for key, want := range map[string]string{"100/a": "02:00:00:00:00:a1", "200/a": ""} {
		e, ok := w.Peer("a").Get(KindHostNet, key)
		rec, _ := record.Decode[HostNetRec](e.Value)
		if !ok || rec.DirectMAC != want {
			t.Errorf("record %s publishes direct MAC %q, want %q", key, rec.DirectMAC, want)
		}
	}
}
