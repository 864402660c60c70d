package datapath

import (
	"context"
	"net"

	"github.com/vishvananda/netlink"
	"net/netip"
	"testing"
	"time"
)

// TestDirectTraffic: two hosts on one underlay segment share a direct
// network. Containers reach each other with the remotes' IPv4 routed
// through the macvlans, not VXLAN (the VXLAN devices' counters stay still
// while the macvlans' move); a remote without a published direct MAC keeps
// VXLAN; a frame from a stranger's MAC on the segment is dropped by the
// filter; turning direct off restores VXLAN for everyone.
func TestDirectTraffic(t *testing.T) {
	hostA, hostB := newTestNS(t), newTestNS(t)
	linkHosts(t, hostA, hostB, "192.0.2.1/24", "192.0.2.2/24")
	gw, subnet := mustPrefix("10.40.0.1/24")
	n := Network{ID: "direct", VNI: 78, Subnet: subnet, Gateway: gw, Direct: true}
	for _, h := range []struct {
		ns   *testNS
		vtep string
	}{{hostA, "192.0.2.1"}, {hostB, "192.0.2.2"}} {
		n.VTEP = netip.MustParseAddr(h.vtep)
		if _, err := h.ns.m.EnsureNetwork(n); err != nil {
			t.Fatal(err)
		}
		if _, err := h.ns.m.EnsureNetwork(n); err != nil { // idempotent
			t.Fatal(err)
		}
	}
	if addrs, err := hostA.net(t, n.ID).h.AddrList(hostA.net(t, n.ID).link(t, DirectName(n.ID)), netlink.FAMILY_ALL); err != nil || len(addrs) != 0 {
		t.Errorf("macvlan addresses %v, %v: want none (no IPv4, no IPv6 link-local)", addrs, err)
	}
	macA, macB := hostA.m.DirectMAC(n.ID), hostB.m.DirectMAC(n.ID)
	if macA == nil || macB == nil || macA.String() == macB.String() {
		t.Fatalf("direct MACs %s and %s: want two different ones", macA, macB)
	}
	a1 := addContainer(t, hostA, n.ID, "epda1", "10.40.0.11/24")
	b1 := addContainer(t, hostB, n.ID, "epdb1", "10.40.0.21/24")
	b2 := addContainer(t, hostB, n.ID, "epdb2", "10.40.0.22/24")
	vtepA, vtepB := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	direct := func(c container, vtep string, mac net.HardwareAddr) Remote {
		r := c.remote(vtep)
		r.DirectMAC = mac
		return r
	}
	set := func(withB2 bool) {
		t.Helper()
		rb := []Remote{direct(b1, "192.0.2.2", macB), b2.remote("192.0.2.2")}
		if withB2 {
			rb[1] = direct(b2, "192.0.2.2", macB)
		}
		if err := hostA.m.SetRemotes(n.ID, rb, []netip.Addr{vtepB}); err != nil {
			t.Fatal(err)
		}
		if err := hostB.m.SetRemotes(n.ID, []Remote{direct(a1, "192.0.2.1", macA)}, []netip.Addr{vtepA}); err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range []*testNS{hostA, hostB} {
		if err := h.m.SetVXLANPeers([]netip.Addr{vtepA, vtepB}); err != nil {
			t.Fatal(err)
		}
	}
	set(false)
	for _, c := range []container{a1, b1, b2} {
		serveEcho(t, c)
	}
	if got := hostA.m.DirectPaths(n.ID)[vtepB]; got != PathDirect {
		t.Errorf("path to B = %q, want %q", got, PathDirect)
	}
	vxA := func() uint64 { return linkStats(t, hostA.net(t, n.ID), VXLANName(n.ID)).TxPackets }
	mvA := func() uint64 { return linkStats(t, hostA.net(t, n.ID), DirectName(n.ID)).TxPackets }
	// b2 stays on VXLAN (a mixed pair): it works and uses the VXLAN device.
	v0, m0 := vxA(), mvA()
	if err := echo(a1, b2.ip, 3*time.Second); err != nil {
		t.Fatalf("A to b2 over VXLAN: %v", err)
	}
	if vxA() == v0 {
		t.Errorf("A to b2: VXLAN device sent nothing")
	}
	if mvA() != m0 {
		t.Errorf("A to b2: the macvlan sent packets for a remote that is not direct")
	}
	v0, m0 = vxA(), mvA()
	for i := 0; i < 3; i++ {
		if err := echo(a1, b1.ip, 3*time.Second); err != nil {
			t.Fatalf("A to b1 direct: %v", err)
		}
	}
	if d := mvA() - m0; d < 10 {
		t.Errorf("A to b1: macvlan sent %d packets, want the connections' (>= 10)", d)
	}
	// ARP may still ask once through the proxy; no data goes over VXLAN.
	if d := vxA() - v0; d > 2 {
		t.Errorf("A to b1: VXLAN device sent %d packets, want none of the connections'", d)
	}
	set(true)
	if err := echo(a1, b2.ip, 3*time.Second); err != nil {
		t.Fatalf("A to b2 after it became direct: %v", err)
	}
	t.Run("stranger", func(t *testing.T) { testDirectStranger(t, hostA, b1, macB) })
	n.Direct = false
	n.VTEP = vtepA
	if _, err := hostA.m.EnsureNetwork(n); err != nil {
		t.Fatal(err)
	}
	// A publishes no direct MAC any more: B takes A's containers back to VXLAN.
	if err := hostB.m.SetRemotes(n.ID, []Remote{a1.remote("192.0.2.1")}, []netip.Addr{vtepA}); err != nil {
		t.Fatal(err)
	}
	hostA.net(t, n.ID).absent(t, DirectName(n.ID))
	v0 = vxA()
	if err := echo(a1, b1.ip, 3*time.Second); err != nil {
		t.Fatalf("A to b1 after direct was turned off on A: %v", err)
	}
	if vxA() == v0 {
		t.Errorf("direct off: VXLAN device sent nothing")
	}
}

func linkStats(t *testing.T, tn *testNS, name string) netlink.LinkStatistics {
	t.Helper()
	return *tn.link(t, name).Attrs().Statistics
}

// testDirectStranger sends, from host A's own namespace through a macvlan
// of a stranger's MAC on the segment, TCP to b's container 10.40.0.21 with
// a direct peer's container address as source: B's filter drops it.
func testDirectStranger(t *testing.T, hostA *testNS, b1 container, macB net.HardwareAddr) {
	attrs := netlink.NewLinkAttrs()
	attrs.Name, attrs.ParentIndex = "strg", hostA.link(t, "ul0").Attrs().Index
	attrs.HardwareAddr = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x99}
	if err := hostA.h.LinkAdd(&netlink.Macvlan{LinkAttrs: attrs, Mode: netlink.MACVLAN_MODE_PRIVATE}); err != nil {
		t.Fatal(err)
	}
	l := hostA.link(t, "strg")
	addr, _ := netlink.ParseAddr("10.40.0.11/32")
	if err := hostA.h.AddrAdd(l, addr); err != nil {
		t.Fatal(err)
	}
	if err := hostA.h.LinkSetUp(l); err != nil {
		t.Fatal(err)
	}
	_, dst := mustCIDR("10.40.0.21/32")
	if err := hostA.h.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Dst: dst, Scope: netlink.SCOPE_LINK}); err != nil {
		t.Fatal(err)
	}
	if err := hostA.h.NeighSet(neighEntry(l.Attrs().Index, dst.IP, macB)); err != nil {
		t.Fatal(err)
	}
	if udpReaches(t, hostA, b1, 7778) {
		t.Errorf("a stranger's frame on the segment reached a container of the direct network")
	}
	if err := hostA.h.LinkDel(l); err != nil {
		t.Fatal(err)
	}
}

// udpReaches sends a datagram from the namespace of from to c's address and
// port and tells whether c received it within a second.
func udpReaches(t *testing.T, from *testNS, c container, port int) bool {
	t.Helper()
	var ln *net.UDPConn
	err := inNS(c.ns, func() (err error) {
		ln, err = net.ListenUDP("udp4", &net.UDPAddr{IP: c.ip, Port: port})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = inNS(from.ns, func() error {
		conn, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: c.ip, Port: port})
		if err != nil {
			return err
		}
		defer conn.Close()
		for i := 0; i < 3; i++ {
			_, _ = conn.Write([]byte("stranger"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = ln.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 64)
	_, _, err = ln.ReadFromUDP(buf)
	return err == nil
}

// TestParkDirect: parking a direct network removes its macvlan and writes its remotes back in VXLAN form in
// the host namespace; once the peer takes the parked host back to VXLAN, traffic flows both ways (the parked
// container's ARP cache still names the bridge for the remote: the host routes it onto the bridge). The next
// EnsureNetwork brings the macvlan back with the same MAC, and the direct path works again.
func TestParkDirect(t *testing.T) {
	hostA, hostB := newTestNS(t), newTestNS(t)
	linkHosts(t, hostA, hostB, "192.0.2.1/24", "192.0.2.2/24")
	gw, subnet := mustPrefix("10.41.0.1/24")
	n := Network{ID: "abcdef0123456789abcd", VNI: 80, Subnet: subnet, Gateway: gw, Direct: true}
	na, nb := n, n
	na.VTEP, nb.VTEP = netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	for _, p := range []struct {
		h *testNS
		n Network
	}{{hostA, na}, {hostB, nb}} {
		if _, err := p.h.m.EnsureNetwork(p.n); err != nil {
			t.Fatal(err)
		}
		if err := p.h.m.SetVXLANPeers([]netip.Addr{na.VTEP, nb.VTEP}); err != nil {
			t.Fatal(err)
		}
	}
	macA := hostA.m.DirectMAC(n.ID)
	a1 := addContainer(t, hostA, n.ID, "eppa1", "10.41.0.11/24")
	b1 := addContainer(t, hostB, n.ID, "eppb1", "10.41.0.21/24")
	set := func(h *testNS, c container, vtep string, mac net.HardwareAddr) {
		t.Helper()
		r := c.remote(vtep)
		r.DirectMAC = mac
		if err := h.m.SetRemotes(n.ID, []Remote{r}, []netip.Addr{netip.MustParseAddr(vtep)}); err != nil {
			t.Fatal(err)
		}
	}
	set(hostA, b1, "192.0.2.2", hostB.m.DirectMAC(n.ID))
	set(hostB, a1, "192.0.2.1", macA)
	serveEcho(t, a1)
	serveEcho(t, b1)
	both := func(when string) {
		t.Helper()
		for _, p := range []struct{ from, to container }{{a1, b1}, {b1, a1}} {
			if err := echo(p.from, p.to.ip, 3*time.Second); err != nil {
				t.Errorf("%s, %s to %s: %v", when, p.from.ip, p.to.ip, err)
			}
		}
	}
	both("direct")
	if err := hostA.m.Park(context.Background()); err != nil {
		t.Fatal(err)
	}
	hostA.absent(t, DirectName(n.ID))
	set(hostB, a1, "192.0.2.1", nil) // B's mesh no longer sees A's direct MAC
	both("parked")
	if _, err := hostA.m.EnsureNetwork(na); err != nil {
		t.Fatal(err)
	}
	if got := hostA.m.DirectMAC(n.ID); got.String() != macA.String() {
		t.Errorf("macvlan MAC after the return %s, want %s as before", got, macA)
	}
	set(hostB, a1, "192.0.2.1", macA)
	both("back")
}
