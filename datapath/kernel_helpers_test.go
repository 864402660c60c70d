package datapath

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/weavego/weavego/internal/nsrun"
)

// testNS is a named network namespace created for one test, with a netlink
// handle and a Manager bound to it. Named so that "ip netns exec" works.
type testNS struct {
	name string
	ns   netns.NsHandle
	h    *netlink.Handle
	m    *Manager
	// nsDir is where m pins the namespaces of networks.
	nsDir string
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
	return newTestNSWith(t, Config{})
}

// newTestNSWith is newTestNS with a Manager made from cfg, whose handle,
// namespace, logger and NSDir it sets.
func newTestNSWith(t *testing.T, cfg Config) *testNS {
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
	tn.nsDir = t.TempDir()
	t.Cleanup(func() { unpinAll(t, tn.nsDir) })
	cfg.Handle, cfg.NetNS, cfg.Logger, cfg.NSDir = tn.h, ns, logger, tn.nsDir
	if tn.m, err = New(cfg); err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { tn.m.Close() })
	return tn
}

// unpinAll removes the namespaces a test left pinned in dir.
func unpinAll(t *testing.T, dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if err := nsrun.Remove(filepath.Join(dir, e.Name())); err != nil {
			t.Errorf("remove namespace pin: %v", err)
		}
	}
}

// net returns a view of tn whose handle is in the namespace of network id,
// to look at the devices that live there.
func (tn *testNS) net(t *testing.T, id string) *testNS {
	t.Helper()
	ns, err := netns.GetFromPath(NamespacePath(tn.nsDir, id))
	if err != nil {
		t.Fatalf("namespace of network %s: %v", id, err)
	}
	t.Cleanup(func() { ns.Close() })
	return &testNS{name: tn.name + "/" + id, ns: ns, h: tn.netNS(t, id), m: tn.m, nsDir: tn.nsDir}
}

// netNS returns a netlink handle in the namespace of network id.
func (tn *testNS) netNS(t *testing.T, id string) *netlink.Handle {
	t.Helper()
	ns, err := netns.GetFromPath(NamespacePath(tn.nsDir, id))
	if err != nil {
		t.Fatalf("namespace of network %s: %v", id, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatalf("netlink in the namespace of network %s: %v", id, err)
	}
	t.Cleanup(h.Close)
	return h
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

// mustPrefix is the address and its prefix, as datapath.Network takes them.
func mustPrefix(s string) (netip.Addr, netip.Prefix) {
	p := netip.MustParsePrefix(s)
	return p.Addr(), p.Masked()
}

func mustCIDR(s string) (net.IP, *net.IPNet) {
	ip, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	return ip, n
}
