package datapath

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"

	"github.com/vishvananda/netlink"
)

func testNetwork(id string, vni uint32, vtep string) Network {
	gw, subnet := mustPrefix("10.20.0.1/24")
	n := Network{ID: id, VNI: vni, Subnet: subnet, Gateway: gw}
	if vtep != "" {
		n.VTEP = netip.MustParseAddr(vtep)
	}
	return n
}

func checkVXLAN(t *testing.T, tn *testNS, n Network, mtu int) *netlink.Vxlan {
	t.Helper()
	br := tn.link(t, BridgeName(n.ID))
	vx, ok := tn.link(t, VXLANName(n.ID)).(*netlink.Vxlan)
	if !ok {
		t.Fatalf("%s is not a vxlan device", VXLANName(n.ID))
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"VNI", vx.VxlanId, int(n.VNI)},
		{"port", vx.Port, n.port()},
		{"local", vx.SrcAddr.String(), n.VTEP.String()},
		{"learning", vx.Learning, false},
		{"proxy", vx.Proxy, true},
		{"udpcsum", vx.UDPCSum, true},
		{"master", vx.MasterIndex, br.Attrs().Index},
		{"mtu", vx.MTU, mtu},
		{"up", vx.Flags&net.FlagUp != 0, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("vxlan %s: %s = %v, want %v", vx.Name, c.what, c.got, c.want)
		}
	}
	return vx
}

func checkBridge(t *testing.T, tn *testNS, n Network, mtu int) netlink.Link {
	t.Helper()
	br := tn.link(t, BridgeName(n.ID))
	if _, ok := br.(*netlink.Bridge); !ok {
		t.Fatalf("%s is a %s, not a bridge", br.Attrs().Name, br.Type())
	}
	if br.Attrs().MTU != mtu || br.Attrs().Flags&net.FlagUp == 0 || br.Attrs().Alias != n.ID {
		t.Errorf("bridge %s: mtu %d up %v alias %q; want %d, up, %q", br.Attrs().Name,
			br.Attrs().MTU, br.Attrs().Flags&net.FlagUp != 0, br.Attrs().Alias, mtu, n.ID)
	}
	addrs, err := tn.h.AddrList(br, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	want := netip.PrefixFrom(n.Gateway, n.Subnet.Bits()).String()
	if len(addrs) != 1 || addrs[0].IPNet.String() != want {
		t.Errorf("bridge addresses = %v, want exactly %s", addrs, want)
	}
	return br
}

func TestEnsureNetwork(t *testing.T) {
	tests := []struct {
		name    string
		vni     uint32
		mtu     int
		ulMTU   int
		wantMTU int
		vxlan   bool
	}{
		{name: "single host", vni: 0, ulMTU: 1500, wantMTU: 1450},
		{name: "vxlan auto mtu", vni: 42, ulMTU: 9000, wantMTU: 8950, vxlan: true},
		{name: "vxlan explicit mtu", vni: 43, mtu: 1400, ulMTU: 9000, wantMTU: 1400, vxlan: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tn := newTestNS(t)
			tn.addUnderlay(t, tc.ulMTU, "192.0.2.10/24")
			n := testNetwork("net1abcdefghijk", tc.vni, "192.0.2.10")
			n.MTU = tc.mtu
			for i := 0; i < 3; i++ { // idempotent: same result every time
				mtu, err := tn.m.EnsureNetwork(n)
				if err != nil || mtu != tc.wantMTU {
					t.Fatalf("EnsureNetwork #%d = %d, %v; want %d", i, mtu, err, tc.wantMTU)
				}
			}
			nn := tn.net(t, n.ID)
			br := checkBridge(t, nn, n, tc.wantMTU)
			if tc.vxlan {
				checkVXLAN(t, nn, n, tc.wantMTU)
			} else {
				nn.absent(t, VXLANName(n.ID))
			}
			// The devices live in the network's namespace, none in the host's.
			tn.absent(t, BridgeName(n.ID))
			tn.absent(t, VXLANName(n.ID))
			ids, err := tn.m.NetworkIDs()
			if err != nil || len(ids) != 1 || ids[0] != n.ID {
				t.Errorf("NetworkIDs = %v, %v; want [%s]", ids, err, n.ID)
			}
			if again := nn.link(t, BridgeName(n.ID)); again.Attrs().Index != br.Attrs().Index {
				t.Errorf("bridge was recreated")
			}
		})
	}
}

func TestEnsureNetworkMTUUnknownVTEP(t *testing.T) {
	tn := newTestNS(t)
	mtu, err := tn.m.EnsureNetwork(testNetwork("n1", 5, "192.0.2.99"))
	if err != nil || mtu != DefaultMTU {
		t.Fatalf("EnsureNetwork = %d, %v; want %d", mtu, err, DefaultMTU)
	}
}

func TestEnsureNetworkRepairs(t *testing.T) {
	tn := newTestNS(t)
	tn.addUnderlay(t, 1500, "192.0.2.10/24")
	n := testNetwork("rep", 100, "192.0.2.10")
	if _, err := tn.m.EnsureNetwork(n); err != nil {
		t.Fatal(err)
	}
	remote := Remote{IP: netip.MustParseAddr("10.20.0.7"), MAC: mustMAC("02:aa:00:00:00:07"), VTEP: netip.MustParseAddr("192.0.2.20")}
	if err := tn.m.SetRemotes(n.ID, []Remote{remote}, []netip.Addr{remote.VTEP}); err != nil {
		t.Fatal(err)
	}
	// Someone replaces the device with another VNI and port, and breaks the bridge.
	nn := tn.net(t, n.ID)
	old := nn.link(t, VXLANName(n.ID))
	if err := nn.h.LinkDel(old); err != nil {
		t.Fatal(err)
	}
	attrs := netlink.NewLinkAttrs()
	attrs.Name = VXLANName(n.ID)
	if err := nn.h.LinkAdd(&netlink.Vxlan{LinkAttrs: attrs, VxlanId: 200, Port: 8472, Learning: true}); err != nil {
		t.Fatal(err)
	}
	br := nn.link(t, BridgeName(n.ID))
	_ = nn.h.LinkSetMTU(br, 1300)
	_ = nn.h.LinkSetDown(br)
	_ = nn.h.AddrAdd(br, &netlink.Addr{IPNet: &net.IPNet{IP: net.ParseIP("10.99.0.1"), Mask: net.CIDRMask(16, 32)}})

	if _, err := tn.m.EnsureNetwork(n); err != nil {
		t.Fatal(err)
	}
	checkBridge(t, nn, n, 1450)
	vx := checkVXLAN(t, nn, n, 1450)
	// The remotes were re-applied to the new device.
	assertRemoteState(t, nn, vx.Index, []Remote{remote}, []netip.Addr{remote.VTEP})

	// Turning VXLAN off removes the device.
	n.VNI = 0
	if _, err := tn.m.EnsureNetwork(n); err != nil {
		t.Fatal(err)
	}
	nn.absent(t, VXLANName(n.ID))
}

func TestDeleteNetwork(t *testing.T) {
	tn := newTestNS(t)
	tn.addUnderlay(t, 1500, "192.0.2.10/24")
	n := testNetwork("del", 7, "192.0.2.10")
	other := testNetwork("keep", 8, "192.0.2.10")
	for _, nw := range []Network{n, other} {
		if _, err := tn.m.EnsureNetwork(nw); err != nil {
			t.Fatal(err)
		}
	}
	h1, c1, err := tn.m.CreateEndpoint(Endpoint{NetworkID: n.ID, ID: "ep1"})
	if err != nil {
		t.Fatal(err)
	}
	h2, _, err := tn.m.CreateEndpoint(Endpoint{NetworkID: other.ID, ID: "ep2"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := tn.m.DeleteNetwork(n.ID); err != nil {
			t.Fatalf("DeleteNetwork #%d: %v", i, err)
		}
	}
	for _, name := range []string{BridgeName(n.ID), VXLANName(n.ID), h1, c1} {
		tn.absent(t, name)
	}
	if _, err := os.Stat(NamespacePath(tn.nsDir, n.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the namespace pin of the deleted network is still there: %v", err)
	}
	nk := tn.net(t, other.ID)
	for _, name := range []string{BridgeName(other.ID), VXLANName(other.ID), h2} {
		nk.link(t, name)
	}
	ids, err := tn.m.NetworkIDs()
	if err != nil || len(ids) != 1 || ids[0] != other.ID {
		t.Errorf("NetworkIDs = %v, %v; want [%s]", ids, err, other.ID)
	}
	if err := tn.m.SetRemotes(n.ID, []Remote{{MAC: mustMAC("02:00:00:00:00:01"), VTEP: netip.MustParseAddr("192.0.2.1")}}, nil); !errors.Is(err, ErrNetworkNotFound) {
		t.Errorf("SetRemotes on deleted network = %v, want ErrNetworkNotFound", err)
	}
}
