package datapath

import (
	"testing"

	"github.com/vishvananda/netlink"
)

func TestLeftoversRemovesOnlyMarkedIdleBridges(t *testing.T) {
	tn := newTestNS(t)
	ids := map[string]string{
		"known":    "1111111111111111111111111111111111111111111111111111111111111111",
		"idle":     "2222222222222222222222222222222222222222222222222222222222222222",
		"attached": "3333333333333333333333333333333333333333333333333333333333333333",
	}
	tn.addUnderlay(t, 1500, "192.0.2.10/24")
	vni := uint32(50)
	for _, id := range ids {
		vni++
		if _, err := tn.m.EnsureNetwork(testNetwork(id, vni, "192.0.2.10")); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := tn.m.CreateEndpoint(Endpoint{NetworkID: ids["attached"], ID: "4444444444444444"}); err != nil {
		t.Fatal(err)
	}
	// Another program's bridge that happens to share the prefix.
	foreign := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: BridgePrefix + "other"}}
	if err := tn.h.LinkAdd(foreign); err != nil {
		t.Fatal(err)
	}
	vx := tn.net(t, ids["idle"]).link(t, VXLANName(ids["idle"]))
	if vx.Attrs().Alias != ids["idle"] {
		t.Errorf("VXLAN device alias %q, want the network ID as weavego's mark", vx.Attrs().Alias)
	}

	got, err := tn.m.Leftovers([]string{ids["known"]})
	if err != nil {
		t.Fatal(err)
	}
	why := map[string]string{}
	for _, lo := range got {
		why[lo.ID] = lo.Why
	}
	if len(got) != 3 {
		t.Fatalf("leftovers %v, want idle, attached and the foreign bridge", got)
	}
	if w, ok := why[ids["idle"]]; !ok || w != "" {
		t.Errorf("idle marked bridge: removable=%v why=%q, want removable", ok, w)
	}
	if why[ids["attached"]] == "" {
		t.Error("a bridge with a container attached was offered for removal")
	}
	if why["other"] == "" {
		t.Error("another program's wgb- bridge was offered for removal")
	}
	if _, ok := why[ids["known"]]; ok {
		t.Error("a known network was offered for removal")
	}
}
