package reconcile

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/weavego/weavego/internal/record"
	"github.com/weavego/weavego/mesh/meshtest"
)

// A network defined with an option weavego does not know (by a version that
// did not refuse it) is shown with what the option does not do and how to
// re-create the network; a network with known options only is not.
func TestStatusUnknownOptions(t *testing.T) {
	w := meshtest.New(meshtest.Config{})
	a := New(Config{}, Deps{Map: w.Peer("h1")})
	other := w.Peer("h2")
	other.Set(KindNetwork, "net1", record.Encode(NetDef{Name: "net1", Subnet: netip.MustParsePrefix("10.32.0.0/24"), VNI: 7,
		Options: map[string]string{"bogus": ""}, Origin: "h2"}))
	other.Set(KindNetwork, "net2", record.Encode(NetDef{Name: "net2", Subnet: netip.MustParsePrefix("10.32.1.0/24"), VNI: 8,
		Options: map[string]string{"com.docker.network.driver.mtu": "1400"}, Origin: "h2"}))
	other.Set(KindNetwork, "net3", record.Encode(NetDef{Name: "net3", Subnet: netip.MustParsePrefix("10.32.2.0/24"), VNI: 9,
		Options: map[string]string{"encrypted": ""}, Origin: "h2"}))
	got := map[string][2]string{}
	encrypted := map[string]bool{}
	for _, n := range a.Status().Networks {
		got[n.Name] = [2]string{n.UnknownOptions, n.UnknownOptionsFix}
		encrypted[n.Name] = n.Encrypted
	}
	if what, fix := got["net1"][0], got["net1"][1]; !strings.Contains(what, "network net1 was created with -o bogus") ||
		!strings.Contains(what, "no effect") || !strings.Contains(fix, "`docker network rm net1`") {
		t.Errorf("net1: %q, fix %q", what, fix)
	}
	for _, n := range []string{"net2", "net3"} {
		if got[n] != [2]string{} {
			t.Errorf("%s, with known options only: %q", n, got[n])
		}
	}
	if !encrypted["net3"] || encrypted["net1"] || encrypted["net2"] {
		t.Errorf("encrypted networks in status: %v, want net3 only", encrypted)
	}
}

// An IPv6-only network is shown by its IPv6 subnet and gateway, and the
// --dns flag that reaches dnsd there.
func TestStatusIPv6Only(t *testing.T) {
	w := meshtest.New(meshtest.Config{})
	a := New(Config{}, Deps{Map: w.Peer("h1")})
	w.Peer("h2").Set(KindNetwork, "v6", record.Encode(NetDef{Name: "v6", VNI: 7, Origin: "h2",
		Subnet6: netip.MustParsePrefix("fd00:7::/64"), Gateway6: netip.MustParseAddr("fd00:7::1")}))
	nets := a.Status().Networks
	if len(nets) != 1 || nets[0].Subnet != "fd00:7::/64" || nets[0].Gateway != "fd00:7::1" || nets[0].DNSFlag != "--dns fd00:7::1" {
		t.Errorf("status %+v", nets)
	}
}
