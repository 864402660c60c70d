package dnsd

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/vishvananda/netlink"

	"github.com/weavego/weavego/internal/nsrun"
)

// newNetNS pins a new network namespace in dir with lo up, removed at cleanup.
func newNetNS(t *testing.T, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := nsrun.Create(path, func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		return netlink.LinkSetUp(lo)
	}); err != nil {
		t.Fatalf("network namespace %s: %v", name, err)
	}
	t.Cleanup(func() { _ = nsrun.Remove(path) })
	return path
}

// TestListenInNamespaces: each served network with a namespace gets its own
// sockets there, on the same address and port, and they answer.
func TestListenInNamespaces(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	dir := t.TempDir()
	nsA, nsB := newNetNS(t, dir, "a"), newNetNS(t, dir, "b")
	const port = 15353
	s := newTestServerWith(t, Config{Port: port, ServiceAddr: netip.MustParseAddr("127.0.0.53")})
	nets := gws("127.0.0.1", "127.0.0.1")
	nets[0].NetNS, nets[1].NetNS = nsA, nsB
	if err := s.SetNetworks(nets); err != nil {
		t.Fatal(err)
	}
	if got := s.Addrs(); len(got) != 4 {
		t.Errorf("listening on %v; want the gateway and the service address in each namespace", got)
	}
	for _, ns := range []string{nsA, nsB} {
		for _, addr := range []string{"127.0.0.1:15353", "127.0.0.53:15353"} {
			var resp *dns.Msg
			err := nsrun.Do(ns, func() (err error) {
				c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
				resp, _, err = c.Exchange(query("web.", dns.TypeA), addr)
				return err
			})
			if err != nil || resp.Rcode != dns.RcodeSuccess || len(resp.Answer) == 0 {
				t.Errorf("%s in %s: %v %v", addr, filepath.Base(ns), resp, err)
			}
		}
	}
	// Dropping a network closes its sockets, and only its.
	if err := s.SetNetworks(nets[:1]); err != nil {
		t.Fatal(err)
	}
	if got := s.Addrs(); len(got) != 2 {
		t.Errorf("after removing one network: listening on %v; want 2", got)
	}
}
