package dnsd

import (
	"net"
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

// TestListenerNamesTheNetwork: a request is from a client of the network
// whose namespace it arrived in. A source address of another network's
// subnet, sent in this network's namespace (spoofed, or routed there), is a
// stranger: it gets neither that network's names nor its budget.
func TestListenerNamesTheNetwork(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	dir := t.TempDir()
	nsA, nsB := newNetNS(t, dir, "a"), newNetNS(t, dir, "b")
	addrs := map[string][]string{nsA: {"10.50.1.1/32", "10.50.2.9/32"}, nsB: {"10.50.2.1/32", "10.50.2.9/32"}}
	for ns, list := range addrs {
		if err := nsrun.Do(ns, func() error { return addToLo(list) }); err != nil {
			t.Fatal(err)
		}
	}
	tab := NewTable()
	if err := tab.Replace([]Record{{Name: "secret", IP: netip.MustParseAddr("10.50.2.12"), Network: "n2", VNI: 2}},
		[]Member{{Owner: "client", VNI: 2, IP: netip.MustParseAddr("10.50.2.9")}}); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Port: 15354, ResolvConf: emptyResolvConf(t)}, tab, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.SetNetworks([]Served{
		{Network: "n1", VNI: 1, Subnet: netip.MustParsePrefix("10.50.1.0/24"), Gateway: netip.MustParseAddr("10.50.1.1"), NetNS: nsA},
		{Network: "n2", VNI: 2, Subnet: netip.MustParsePrefix("10.50.2.0/24"), Gateway: netip.MustParseAddr("10.50.2.1"), NetNS: nsB},
	}); err != nil {
		t.Fatal(err)
	}
	ask := func(ns, server string) *dns.Msg {
		var resp *dns.Msg
		err := nsrun.Do(ns, func() (err error) {
			c := &dns.Client{Net: "udp", Timeout: 2 * time.Second,
				Dialer: &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP("10.50.2.9")}}}
			resp, _, err = c.Exchange(query("secret.", dns.TypeA), server)
			return err
		})
		if err != nil {
			t.Fatalf("%s in %s: %v", server, filepath.Base(ns), err)
		}
		return resp
	}
	if r := ask(nsB, "10.50.2.1:15354"); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Errorf("n2's client in n2's namespace: %v", r)
	}
	if r := ask(nsA, "10.50.1.1:15354"); r.Rcode != dns.RcodeRefused || len(r.Answer) != 0 {
		t.Errorf("n2's source address in n1's namespace got %s with %d answers; want REFUSED",
			dns.RcodeToString[r.Rcode], len(r.Answer))
	}
}

// addToLo adds addresses to lo in the current namespace.
func addToLo(list []string) error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return err
	}
	for _, a := range list {
		addr, err := netlink.ParseAddr(a)
		if err != nil {
			return err
		}
		if err := netlink.AddrAdd(lo, addr); err != nil {
			return err
		}
	}
	return nil
}
