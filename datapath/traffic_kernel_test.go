package datapath

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"github.com/weavego/weavego/internal/ipconv"
)

// inNS runs fn on a locked thread switched into ns; sockets fn creates stay
// in ns afterwards.
func inNS(ns netns.NsHandle, fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	if err := netns.Set(ns); err != nil {
		runtime.UnlockOSThread()
		return err
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		return errors.Join(ferr, err) // thread stays locked and dies with the goroutine
	}
	runtime.UnlockOSThread()
	return ferr
}

// container is a namespace holding the container end of an endpoint.
type container struct {
	*testNS
	ip  net.IP
	mac net.HardwareAddr
}

// addContainer creates an endpoint on host and moves its container end
// into a new namespace with address cidr.
func addContainer(t *testing.T, host *testNS, netID, epID, cidr string) container {
	t.Helper()
	ip, subnet := mustCIDR(cidr)
	mac := net.HardwareAddr{0x02, 0x42, ip[12], ip[13], ip[14], ip[15]}
	_, contIf, err := host.m.CreateEndpoint(Endpoint{NetworkID: netID, ID: epID, MAC: mac})
	if err != nil {
		t.Fatal(err)
	}
	c := container{testNS: newTestNS(t), ip: ip, mac: mac}
	if err := host.h.LinkSetNsFd(host.link(t, contIf), int(c.ns)); err != nil {
		t.Fatalf("move %s: %v", contIf, err)
	}
	l := c.link(t, contIf)
	if err := c.h.AddrAdd(l, &netlink.Addr{IPNet: &net.IPNet{IP: ip, Mask: subnet.Mask}}); err != nil {
		t.Fatal(err)
	}
	if err := c.h.LinkSetUp(l); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c container) remote(vtep string) Remote {
	return Remote{IP: ipconv.Addr(c.ip), MAC: c.mac, VTEP: netip.MustParseAddr(vtep)}
}

// serveEcho listens on port 7777 in c and echoes one line per connection.
func serveEcho(t *testing.T, c container) {
	t.Helper()
	var ln net.Listener
	err := inNS(c.ns, func() (err error) {
		ln, err = net.Listen("tcp4", net.JoinHostPort(c.ip.String(), "7777"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.CopyN(conn, conn, 5)
			conn.Close()
		}
	}()
}

// echo connects from c to dst:7777 and checks the echo.
func echo(from container, dst net.IP, timeout time.Duration) error {
	var conn net.Conn
	err := inNS(from.ns, func() (err error) {
		conn, err = net.DialTimeout("tcp4", net.JoinHostPort(dst.String(), "7777"), timeout)
		return err
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, err := conn.Write([]byte("hello")); err != nil {
		return err
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "hello" {
		return fmt.Errorf("echo from %s: %q, %v", dst, buf, err)
	}
	return nil
}

// linkHosts joins two namespaces with a veth underlay.
func linkHosts(t *testing.T, a, b *testNS, ipA, ipB string) {
	t.Helper()
	attrs := netlink.NewLinkAttrs()
	attrs.Name = "ul0"
	if err := a.h.LinkAdd(&netlink.Veth{LinkAttrs: attrs, PeerName: "ul0b", PeerNamespace: netlink.NsFd(int(b.ns))}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		h    *testNS
		name string
		cidr string
	}{{a, "ul0", ipA}, {b, "ul0b", ipB}} {
		l := s.h.link(t, s.name)
		addr, _ := netlink.ParseAddr(s.cidr)
		if err := s.h.h.AddrAdd(l, addr); err != nil {
			t.Fatal(err)
		}
		if err := s.h.h.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTraffic(t *testing.T) {
	hostA, hostB := newTestNS(t), newTestNS(t)
	linkHosts(t, hostA, hostB, "192.0.2.1/24", "192.0.2.2/24")
	// Host A looks like a Docker host: FORWARD policy drop.
	addDockerTable(t, hostA.nft(t))
	gw, subnet := mustPrefix("10.30.0.1/24")
	n := Network{ID: "traffic", VNI: 77, Subnet: subnet, Gateway: gw}
	for _, h := range []struct {
		ns   *testNS
		vtep string
	}{{hostA, "192.0.2.1"}, {hostB, "192.0.2.2"}} {
		n.VTEP = netip.MustParseAddr(h.vtep)
		if _, err := h.ns.m.EnsureNetwork(n); err != nil {
			t.Fatal(err)
		}
	}
	a1 := addContainer(t, hostA, n.ID, "epa1", "10.30.0.11/24")
	a2 := addContainer(t, hostA, n.ID, "epa2", "10.30.0.12/24")
	b1 := addContainer(t, hostB, n.ID, "epb1", "10.30.0.21/24")
	if err := hostA.m.SetRemotes(n.ID, []Remote{b1.remote("192.0.2.2")}, []netip.Addr{netip.MustParseAddr("192.0.2.2")}); err != nil {
		t.Fatal(err)
	}
	if err := hostB.m.SetRemotes(n.ID, []Remote{a1.remote("192.0.2.1"), a2.remote("192.0.2.1")}, []netip.Addr{netip.MustParseAddr("192.0.2.1")}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []container{a1, a2, b1} {
		serveEcho(t, c)
	}
	testAllowlist(t, hostA, hostB, a1, b1)
	for _, p := range []struct {
		name     string
		from, to container
	}{{"same host", a1, a2}, {"A to B", a1, b1}, {"B to A", b1, a2}} {
		if err := echo(p.from, p.to.ip, 3*time.Second); err != nil {
			t.Errorf("%s: %v", p.name, err)
		}
	}
	t.Run("isolation", func(t *testing.T) { testIsolation(t, hostA, a1) })
}

// testAllowlist first leaves B out of A's VXLAN allowlist: A drops B's
// packets and counts them. Then the members' addresses let traffic through.
func testAllowlist(t *testing.T, hostA, hostB *testNS, a1, b1 container) {
	t.Helper()
	addrs := func(ss ...string) []netip.Addr {
		var out []netip.Addr
		for _, s := range ss {
			out = append(out, netip.MustParseAddr(s))
		}
		return out
	}
	if err := hostA.m.SetVXLANPeers(addrs("192.0.2.1", "192.0.2.9")); err != nil {
		t.Fatal(err)
	}
	if err := hostB.m.SetVXLANPeers(addrs("192.0.2.1", "192.0.2.2")); err != nil {
		t.Fatal(err)
	}
	if err := echo(a1, b1.ip, time.Second); err == nil {
		t.Errorf("traffic from B accepted although B is not in A's allowlist")
	}
	if n := counters(t, hostA.m)[CounterVXLANNonMember]; n == 0 {
		t.Errorf("counter %s = 0 after dropping B's packets", CounterVXLANNonMember)
	}
	if err := hostA.m.SetVXLANPeers(addrs("192.0.2.2", "192.0.2.1", "192.0.2.2")); err != nil {
		t.Fatal(err)
	}
}

// testIsolation puts a second network on host A and routes between the two
// through the host, with forwarding on and no firewall at all: the host has
// no route to either network (each lives in its own namespace, which routes
// nowhere), so nothing gets across.
func testIsolation(t *testing.T, hostA *testNS, a1 container) {
	gw, subnet := mustPrefix("10.31.0.1/24")
	if _, err := hostA.m.EnsureNetwork(Network{ID: "iso", Subnet: subnet, Gateway: gw}); err != nil {
		t.Fatal(err)
	}
	a3 := addContainer(t, hostA, "iso", "epa3", "10.31.0.2/24")
	serveEcho(t, a3)
	for _, r := range []struct {
		c   container
		dst string
		via string
	}{{a1, "10.31.0.0/24", "10.30.0.1"}, {a3, "10.30.0.0/24", "10.31.0.1"}} {
		_, dst := mustCIDR(r.dst)
		if err := r.c.h.RouteAdd(&netlink.Route{Dst: dst, Gw: net.ParseIP(r.via)}); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("ip", "netns", "exec", hostA.name, "sysctl", "-qw", "net.ipv4.ip_forward=1").CombinedOutput(); err != nil {
		t.Fatalf("enable forwarding: %v %s", err, out)
	}
	if err := hostA.m.RemoveFirewall(); err != nil {
		t.Fatal(err)
	}
	c := hostA.nft(t)
	c.DelTable(&nftables.Table{Name: dockerTable, Family: nftables.TableFamilyIPv4})
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := echo(a1, a3.ip, time.Second); err == nil {
		t.Errorf("traffic routed between two weavego networks")
	}
	if err := echo(a3, a1.ip, time.Second); err == nil {
		t.Errorf("traffic routed between two weavego networks")
	}
}
