//go:build linux

package e2e

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// ipv6Only: on an engine with --ipv4=false (Docker 28 and later), an IPv6-only network created on h1 appears on h2
// with the same IPv6 pool and no IPv4 one; its containers get no IPv4 address on it, reach each other across the
// hosts over IPv6 (ping and TCP) with permanent neighbour entries, and resolve each other's names (AAAA) through
// dnsd at the network's IPv6 gateway and at the IPv6 service address, asked directly and through the container's
// own resolver (--dns with the service address). They
// reach nothing of the dual-stack network net6. All of it survives a plugin restart. An --internal IPv6-only network
// gives no route out and forwards no name.
func (s *ipv6Scenario) ipv6Only(t *testing.T) {
	if Engine() == Engine2010 {
		t.Skip("Docker 20.10 has no --ipv4=false")
	}
	createNetworkFor(t, s.top, s.h1, "net6o", append(append([]string{}, netArgs...), "--ipv6", "--ipv4=false")...)
	waitNetwork(t, "net6o", s.h2)
	var pool ipamConfig
	for _, h := range []*Host{s.h1, s.h2} {
		cfgs := inspectIPAM(t, h, "net6o")
		if len(cfgs) != 1 || !netip.MustParsePrefix(cfgs[0].Subnet).Addr().Is6() || pool.Subnet != "" && cfgs[0].Subnet != pool.Subnet {
			t.Fatalf("%s has net6o with pools %+v; want one IPv6 pool, the same on both hosts", h.Name, cfgs)
		}
		pool = cfgs[0]
	}
	gw6, _, _ := strings.Cut(pool.Gateway, "/")
	t.Logf("net6o: IPv6 %s (gateway %s), no IPv4", pool.Subnet, gw6)
	runFor(t, s.top, s.h1, "--name", "osvc", "--network", "net6o", "--dns", gw6, "-e", "NAME=osvc", HTTPImage)
	runFor(t, s.top, s.h2, "--name", "oclient", "--network", "net6o", "--dns", dnsServiceAddr6, BusyboxImage, "sleep", "3600")
	if ip4, _ := s.h1.Docker("inspect", "--format", `{{(index .NetworkSettings.Networks "net6o").IPAddress}}`, "osvc"); strings.TrimSpace(ip4) != "" {
		t.Errorf("osvc has IPv4 address %q on the IPv6-only network", ip4)
	}
	osvc6 := ipv6Of(t, s.h1, "osvc", "net6o")
	start := time.Now()
	Eventually(t, time.Minute, func() error {
		return fetch(s.h2, "oclient", fmt.Sprintf("http://[%s]:8080/", osvc6), "Hi! I'm osvc service")
	})
	t.Logf("HTTP over the IPv6-only network from oclient (h2) to osvc (h1) answered after %s", time.Since(start).Round(time.Millisecond))
	if out, err := execIn(s.h2, "oclient", "ping", "-c", "3", "-W", "2", osvc6); err != nil || !strings.Contains(out, " 0% packet loss") {
		t.Errorf("ping %s from oclient on h2: %q, %v", osvc6, out, err)
	}
	s.ipv6OnlyNeighbour(t, osvc6)
	s.ipv6OnlyNames(t, gw6, osvc6)
	if out, err := execIn(s.h2, "oclient", "ping", "-c", "2", "-W", "1", s.svc6); err == nil && !strings.Contains(out, " 100% packet loss") {
		t.Errorf("oclient on net6o reached svc's %s on net6: %q", s.svc6, out)
	}
	s.ipv6OnlyRestart(t, gw6, osvc6)
	s.ipv6OnlyInternal(t)
}

// ipv6OnlyRestart: after h2's plugin is killed and back, the IPv6-only network is restored there: oclient still
// resolves and reaches osvc, and a new container joins the network.
func (s *ipv6Scenario) ipv6OnlyRestart(t *testing.T, gw6, osvc6 string) {
	old, err := s.h2.KillPlugin()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("h2's plugin back after %s", waitPluginBack(t, s.h2, old, 2*time.Minute).Round(time.Millisecond))
	runFor(t, s.top, s.h2, "--name", "oclient2", "--network", "net6o", BusyboxImage, "sleep", "3600")
	cl := newDNSClient(t, s.h2, "oclient2", gw6)
	Eventually(t, time.Minute, func() error {
		if r, err := cl.Query("osvc", dns.TypeAAAA); err != nil || !answers(r, osvc6) {
			return fmt.Errorf("AAAA osvc at [%s]:53 from oclient2 after the restart: %v, %v", gw6, r, err)
		}
		return fetch(s.h2, "oclient2", fmt.Sprintf("http://[%s]:8080/", osvc6), "Hi! I'm osvc service")
	})
}

// ipv6OnlyInternal: a container on h2 of an --internal IPv6-only network created on h1 has no default route of
// either family, and dnsd at the network's IPv6 gateway answers its names but refuses to forward others.
func (s *ipv6Scenario) ipv6OnlyInternal(t *testing.T) {
	createNetworkFor(t, s.top, s.h1, "net6oi", append(append([]string{}, netArgs...), "--ipv6", "--ipv4=false", "--internal")...)
	waitNetwork(t, "net6oi", s.h2)
	cfgs := inspectIPAM(t, s.h2, "net6oi")
	if len(cfgs) != 1 {
		t.Fatalf("h2 has net6oi with pools %+v", cfgs)
	}
	gw6, _, _ := strings.Cut(cfgs[0].Gateway, "/")
	runFor(t, s.top, s.h2, "--name", "oiclient", "--network", "net6oi", BusyboxImage, "sleep", "3600")
	for _, fam := range []string{"-4", "-6"} {
		if routes, err := execIn(s.h2, "oiclient", "ip", fam, "route", "show"); err != nil || strings.Contains(routes, "default") {
			t.Errorf("oiclient on an --internal IPv6-only network has routes (ip %s) %q, %v; want no default route", fam, routes, err)
		}
	}
	cl := newDNSClient(t, s.h2, "oiclient", gw6)
	Eventually(t, 30*time.Second, func() error {
		r, err := cl.Query("oiclient", dns.TypeAAAA)
		if err != nil || len(r.Answer) != 1 {
			return fmt.Errorf("AAAA oiclient at [%s]:53: %v, %v; want its own address", gw6, r, err)
		}
		return nil
	})
	if r, err := cl.Query("example.org", dns.TypeAAAA); err != nil || r.Rcode != dns.RcodeRefused {
		t.Errorf("AAAA example.org at [%s]:53 on an --internal IPv6-only network: %v, %v; want REFUSED", gw6, r, err)
	}
}

// ipv6OnlyNeighbour: h2's VXLAN device of net6o has a permanent neighbour entry for osvc's IPv6 address.
func (s *ipv6Scenario) ipv6OnlyNeighbour(t *testing.T, osvc6 string) {
	Eventually(t, 30*time.Second, func() error {
		dev, err := s.h2.VXLANDevice("net6o")
		if err != nil {
			return err
		}
		out, err := s.h2.ExecDev(dev, "ip", "-6", "neigh", "show", "dev", dev)
		if err != nil {
			return err
		}
		if !strings.Contains(out, osvc6+" lladdr ") || !strings.Contains(out, "PERMANENT") {
			return fmt.Errorf("h2 %s: no permanent neighbour %s: %q", dev, osvc6, out)
		}
		return nil
	})
}

// ipv6OnlyNames: dnsd at net6o's IPv6 gateway and at the IPv6 service address answers oclient (h2) osvc's AAAA
// record (h1), no A record, and the PTR record; the container's own resolver (Docker's, forwarding to --dns, the
// service address) gives the same address.
func (s *ipv6Scenario) ipv6OnlyNames(t *testing.T, gw6, osvc6 string) {
	for _, server := range []string{gw6, dnsServiceAddr6} {
		s.ipv6OnlyNamesAt(t, newDNSClient(t, s.h2, "oclient", server), server, osvc6)
	}
	rc, _ := execIn(s.h2, "oclient", "grep", "-E", "^nameserver|ExtServers", "/etc/resolv.conf")
	routes, _ := execIn(s.h2, "oclient", "ip", "route", "show")
	t.Logf("oclient's resolv.conf: %q; its IPv4 routes (docker_gwbridge): %q", rc, routes)
	Eventually(t, 30*time.Second, func() error {
		out, err := execIn(s.h2, "oclient", "nslookup", "-type=AAAA", "osvc")
		if err != nil || !strings.Contains(out, osvc6) {
			return fmt.Errorf("nslookup -type=AAAA osvc in oclient: %q, %v; want %s", out, err, osvc6)
		}
		return nil
	})
}

func (s *ipv6Scenario) ipv6OnlyNamesAt(t *testing.T, cl *dnsClient, gw6, osvc6 string) {
	Eventually(t, 30*time.Second, func() error {
		for _, q := range []struct {
			name  string
			qtype uint16
			want  string
		}{
			{"osvc", dns.TypeAAAA, osvc6},
			{"osvc.weavego.local", dns.TypeAAAA, osvc6},
			{mustReverse(t, osvc6), dns.TypePTR, "osvc.weavego.local."},
		} {
			r, err := cl.Query(q.name, q.qtype)
			if err != nil {
				return err
			}
			if !answers(r, q.want) {
				return fmt.Errorf("%s %s at [%s]:53: answer %v, want %s", dns.TypeToString[q.qtype], q.name, gw6, r.Answer, q.want)
			}
		}
		return nil
	})
	if r, err := cl.Query("osvc", dns.TypeA); err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 {
		t.Errorf("A osvc at [%s]:53: %v, %v; want no data", gw6, r, err)
	}
}
