package datapath

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/weavego/weavego/internal/ipconv"
)

// oldNetwork sets n up on host the way an earlier weavego did, all in the
// host namespace: bridge and VXLAN device marked with the network ID, one
// endpoint whose container end goes to a new namespace with address cidr,
// and the entries of remote r.
func oldNetwork(t *testing.T, host *testNS, n Network, epID, cidr string, r Remote) container {
	t.Helper()
	h := host.h
	battrs := netlink.NewLinkAttrs()
	battrs.Name = BridgeName(n.ID)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(h.LinkAdd(&netlink.Bridge{LinkAttrs: battrs}))
	br := host.link(t, battrs.Name)
	must(h.LinkSetAlias(br, n.ID))
	must(h.AddrAdd(br, &netlink.Addr{IPNet: ipconv.IPNet(netip.PrefixFrom(n.Gateway, n.Subnet.Bits()))}))
	must(h.LinkSetUp(br))
	must(h.LinkAdd(wantVXLAN(n, DefaultMTU)))
	vx := host.link(t, VXLANName(n.ID))
	must(h.LinkSetAlias(vx, n.ID))
	must(h.LinkSetMaster(vx, br))
	must(h.LinkSetUp(vx))
	must(h.NeighAppend(fdbEntry(vx.Attrs().Index, r.MAC, ipconv.IP(r.VTEP))))
	must(h.NeighAppend(fdbEntry(vx.Attrs().Index, make(net.HardwareAddr, 6), ipconv.IP(r.VTEP))))
	must(h.NeighSet(neighEntry(vx.Attrs().Index, ipconv.IP(r.IP), r.MAC)))

	ip, subnet := mustCIDR(cidr)
	mac := net.HardwareAddr{0x02, 0x42, ip[12], ip[13], ip[14], ip[15]}
	hostIf, contIf := VethNames(epID)
	vattrs := netlink.NewLinkAttrs()
	vattrs.Name, vattrs.MTU = hostIf, DefaultMTU
	must(h.LinkAdd(&netlink.Veth{LinkAttrs: vattrs, PeerName: contIf, PeerHardwareAddr: mac, PeerMTU: DefaultMTU}))
	hv := host.link(t, hostIf)
	must(h.LinkSetMaster(hv, br))
	must(h.LinkSetUp(hv))
	c := container{testNS: newTestNS(t), ip: ip, mac: mac}
	must(h.LinkSetNsFd(host.link(t, contIf), int(c.ns)))
	l := c.link(t, contIf)
	must(c.h.AddrAdd(l, &netlink.Addr{IPNet: &net.IPNet{IP: ip, Mask: subnet.Mask}}))
	must(c.h.LinkSetUp(l))
	return c
}

// TestMigrateFromHostNamespace: a network of an earlier weavego, all in the
// host namespace, is moved into its namespace by EnsureNetwork alone (no
// SetRemotes after the start); its container keeps its interface and
// reaches the other host, and nothing is left in the host namespace.
func TestMigrateFromHostNamespace(t *testing.T) {
	hostA, hostB := newTestNS(t), newTestNS(t)
	linkHosts(t, hostA, hostB, "192.0.2.1/24", "192.0.2.2/24")
	gw, subnet := mustPrefix("10.30.0.1/24")
	n := Network{ID: "0123456789abcdef0123", VNI: 78, Subnet: subnet, Gateway: gw, MTU: DefaultMTU}
	nb := n
	nb.VTEP = netip.MustParseAddr("192.0.2.2")
	if _, err := hostB.m.EnsureNetwork(nb); err != nil {
		t.Fatal(err)
	}
	b1 := addContainer(t, hostB, n.ID, "epb1", "10.30.0.21/24")
	na := n
	na.VTEP = netip.MustParseAddr("192.0.2.1")
	a1 := oldNetwork(t, hostA, na, "epa1", "10.30.0.11/24", b1.remote("192.0.2.2"))
	if err := hostB.m.SetRemotes(n.ID, []Remote{a1.remote("192.0.2.1")}, []netip.Addr{netip.MustParseAddr("192.0.2.1")}); err != nil {
		t.Fatal(err)
	}
	peers := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")}
	for _, h := range []*testNS{hostA, hostB} {
		if err := h.m.SetVXLANPeers(peers); err != nil {
			t.Fatal(err)
		}
	}
	serveEcho(t, a1)
	serveEcho(t, b1)
	if err := echo(b1, a1.ip, 3*time.Second); err != nil {
		t.Fatalf("before the move (test setup): %v", err)
	}
	ids, err := hostA.m.NetworkIDs()
	if err != nil || len(ids) != 1 || ids[0] != n.ID {
		t.Errorf("NetworkIDs before the move = %v, %v; want [%s]", ids, err, n.ID)
	}
	for i := 0; i < 2; i++ {
		if _, err := hostA.m.EnsureNetwork(na); err != nil {
			t.Fatalf("EnsureNetwork #%d: %v", i, err)
		}
	}
	hostIf, _ := VethNames("epa1")
	for _, name := range []string{BridgeName(n.ID), VXLANName(n.ID), hostIf} {
		hostA.absent(t, name)
	}
	nn := hostA.net(t, n.ID)
	if p := nn.link(t, hostIf); p.Attrs().MasterIndex != nn.link(t, BridgeName(n.ID)).Attrs().Index {
		t.Errorf("%s is not a port of the bridge in the namespace", hostIf)
	}
	for _, p := range []struct{ from, to container }{{b1, a1}, {a1, b1}} {
		if err := echo(p.from, p.to.ip, 3*time.Second); err != nil {
			t.Errorf("after the move, %s to %s: %v", p.from.ip, p.to.ip, err)
		}
	}
	ids, err = hostA.m.NetworkIDs()
	if err != nil || len(ids) != 1 || ids[0] != n.ID {
		t.Errorf("NetworkIDs after the move = %v, %v; want [%s]", ids, err, n.ID)
	}
}
