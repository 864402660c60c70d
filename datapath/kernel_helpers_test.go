package datapath

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// testNS is a named network namespace created for one test, with a netlink
// handle and a Manager bound to it. Named so that "ip netns exec" works.
type testNS struct {
	name string
	ns   netns.NsHandle
	h    *netlink.Handle
	m    *Manager
}

func requireNetAdmin(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("kernel test needs root (CAP_NET_ADMIN) to create network namespaces")
	}
}

// newTestNS creates a namespace; the calling thread's namespace is restored
// before it returns and the namespace is deleted at cleanup.
func newTestNS(t *testing.T) *testNS {
	t.Helper()
	requireNetAdmin(t)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "wgt-" + hex.EncodeToString(b)
	ns, err := createNamedNS(name)
	if errors.Is(err, unix.EPERM) {
		t.Skipf("kernel test cannot create a network namespace: %v", err)
	}
	if err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	tn := &testNS{name: name, ns: ns}
	t.Cleanup(func() {
		if tn.h != nil {
			tn.h.Close()
		}
		ns.Close()
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("delete namespace %s: %v", name, err)
		}
	})
	if tn.h, err = netlink.NewHandleAt(ns); err != nil {
		t.Fatalf("netlink handle in %s: %v", name, err)
	}
	lo, err := tn.h.LinkByName("lo")
	if err == nil {
		err = tn.h.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatalf("set lo up in %s: %v", name, err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if tn.m, err = New(Config{Handle: tn.h, NetNS: ns, Logger: logger}); err != nil {
		t.Fatalf("New: %v", err)
	}
	return tn
}

func createNamedNS(name string) (netns.NsHandle, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return netns.None(), err
	}
	defer orig.Close()
	ns, err := netns.NewNamed(name)
	if rerr := netns.Set(orig); rerr != nil {
		// The thread is unusable; keep it locked so it dies with the goroutine.
		runtime.LockOSThread()
		return netns.None(), errors.Join(err, rerr)
	}
	return ns, err
}

func (tn *testNS) link(t *testing.T, name string) netlink.Link {
	t.Helper()
	l, err := tn.h.LinkByName(name)
	if err != nil {
		t.Fatalf("link %s in %s: %v", name, tn.name, err)
	}
	return l
}

func (tn *testNS) absent(t *testing.T, name string) {
	t.Helper()
	if _, err := tn.h.LinkByName(name); err == nil {
		t.Errorf("link %s still exists in %s", name, tn.name)
	}
}

// addUnderlay creates a veth pair in the namespace (no dummy type here)
// with address cidr on the first end and returns that end's name.
func (tn *testNS) addUnderlay(t *testing.T, mtu int, cidr string) string {
	t.Helper()
	attrs := netlink.NewLinkAttrs()
	attrs.Name, attrs.MTU = "ul0", mtu
	if err := tn.h.LinkAdd(&netlink.Veth{LinkAttrs: attrs, PeerName: "ul1"}); err != nil {
		t.Fatalf("add underlay veth: %v", err)
	}
	l := tn.link(t, "ul0")
	addr, err := netlink.ParseAddr(cidr)
	if err != nil {
		t.Fatal(err)
	}
	if err := tn.h.AddrAdd(l, addr); err != nil {
		t.Fatalf("add %s to ul0: %v", cidr, err)
	}
	if err := tn.h.LinkSetUp(l); err != nil {
		t.Fatal(err)
	}
	return "ul0"
}

func mustCIDR(s string) (net.IP, *net.IPNet) {
	ip, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	return ip, n
}
