package reconcile

import (
	"context"
	"net/netip"
	"testing"

	"github.com/weavego/weavego/internal/record"
	"github.com/weavego/weavego/mesh/meshtest"
)

// A host may point the others' tunnels only at itself, and one bad record
// costs only that record.
func TestRemoteSetSkipsForeignVTEPs(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := meshtest.New(meshtest.Config{})
	a := newHost(t, ctx, w, "a", "192.0.2.1")
	w.Add("b", netip.MustParseAddr("192.0.2.2")) // a member without an agent: the test writes for it
	a.userCreates("A1", "net1", "10.32.0.0/24", 100)
	b := w.Peer("b")
	ep := func(ip, mac, vtep string) []byte {
		return record.Encode(EndpointRec{VNI: 100, IP: netip.MustParseAddr(ip), MAC: mac, VTEP: netip.MustParseAddr(vtep)})
	}
	b.Set(KindEndpoint, "good", ep("10.32.0.5", "02:00:00:00:00:05", "192.0.2.2"))
	b.Set(KindEndpoint, "stolen", ep("10.32.0.6", "02:00:00:00:00:06", "192.0.2.99"))
	b.Set(KindEndpoint, "badmac", record.Encode(EndpointRec{VNI: 100, IP: netip.MustParseAddr("10.32.0.7"),
		MAC: "02:00:00:00:00:07:08:09", VTEP: netip.MustParseAddr("192.0.2.2")}))
	b.Set(KindEndpoint, "outside", ep("10.99.0.8", "02:00:00:00:00:08", "192.0.2.2"))
	b.Set(KindHostNet, "100/b", record.Encode(HostNetRec{VNI: 100, VTEP: netip.MustParseAddr("198.51.100.1")}))
	w.Peer("ghost").Set(KindHostNet, "100/ghost", record.Encode(HostNetRec{VNI: 100, VTEP: netip.MustParseAddr("192.0.2.3")}))
	eventually(t, "only b's own endpoint in a's kernel", func() bool {
		r, f := a.kernel.get("A1")
		return len(r) == 1 && r[0].IP.String() == "10.32.0.5" && r[0].VTEP.String() == "192.0.2.2" && len(f) == 0
	})
}
