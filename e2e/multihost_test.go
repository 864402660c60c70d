//go:build linux

package e2e

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// multiHost is the state the steps of TestMultiHost share: one network net1 created on h1, services on h1
// and h2 and a client on h3. Containers that outlive a step are started with top, the test itself.
type multiHost struct {
	top        *testing.T
	c          *Cluster
	h1, h2, h3 *Host
	net1       netView           // as h1 sees it
	vni        uint32            // net1's VNI as h1's plugin reports it
	ip, mac    map[string]string // container name -> address and MAC on net1
	udpecho    string
}

// TestMultiHost drives three hosts through one cluster network: propagation, traffic of every kind, FDB and
// neighbour entries, endpoint removal, a host failure, isolation of networks, a plugin crash and network removal.
func TestMultiHost(t *testing.T) {
	RequirePlugin(t)
	c := NewCluster(t, ClusterOptions{Hosts: 3, Mesh: 3})
	s := &multiHost{top: t, c: c, h1: c.Host(0), h2: c.Host(1), h3: c.Host(2),
		ip: map[string]string{}, mac: map[string]string{}, udpecho: buildUDPEcho(t)}
	runSteps(t, []step{
		{"NetworkPropagates", s.networkPropagates},
		{"Connectivity", s.connectivity},
		{"EndpointRemoval", s.endpointRemoval},
		{"HostFailure", s.hostFailure},
		{"Isolation", s.isolation},
		{"PluginRestart", s.pluginRestart},
		{"NetworkRemove", s.networkRemove},
	}, "NetworkPropagates")
}

func (s *multiHost) networkPropagates(t *testing.T) {
	start := time.Now()
	createNetworkFor(t, s.top, s.h1, "net1", netArgs...)
	t.Logf("docker network create on h1 took %s", time.Since(start).Round(time.Millisecond))
	v1, err := s.h1.NetworkView("net1")
	if err != nil {
		t.Fatal(err)
	}
	s.net1 = v1
	Eventually(t, 30*time.Second, func() error {
		st, err := s.h1.Status()
		if err != nil {
			return err
		}
		for _, n := range st.Cluster.Networks {
			if n.Name == "net1" {
				if n.Subnet != v1.Subnet || n.Gateway != v1.Gateway || n.VNI == 0 {
					return fmt.Errorf("h1 status lists net1 as %+v, docker says subnet %s gateway %s", n, v1.Subnet, v1.Gateway)
				}
				s.vni = n.VNI
				return nil
			}
		}
		return fmt.Errorf("h1 status does not list net1: %+v", st.Cluster.Networks)
	})
	for _, h := range []*Host{s.h2, s.h3} {
		d := measure(t, start, 2*time.Minute, func() error {
			v, err := h.NetworkView("net1")
			if err != nil {
				return err
			}
			if v.Driver != Driver || v.Subnet != v1.Subnet || v.Gateway != v1.Gateway || v.VNI != fmt.Sprint(s.vni) {
				return fmt.Errorf("%s has net1 as %+v; want driver %s subnet %s gateway %s vni %d",
					h.Name, v, Driver, v1.Subnet, v1.Gateway, s.vni)
			}
			return nil
		})
		t.Logf("net1 (subnet %s, gateway %s, vni %d) appeared on %s %s after docker network create on h1",
			v1.Subnet, v1.Gateway, s.vni, h.Name, d.Round(time.Millisecond))
	}
	for _, h := range s.c.Hosts() {
		Eventually(t, 30*time.Second, func() error {
			dev, err := h.VXLANDevice("net1")
			if err != nil {
				return err
			}
			out, err := h.ExecDev(dev, "ip", "-d", "link", "show", dev)
			if err != nil || !strings.Contains(out, fmt.Sprintf("vxlan id %d ", s.vni)) {
				return fmt.Errorf("%s: VXLAN device of net1: %q, %v; want vxlan id %d", h.Name, out, err, s.vni)
			}
			return nil
		})
	}
}

// run starts a container on net1 on h (removed at the end of the test) and records its address and MAC.
func (s *multiHost) run(t *testing.T, h *Host, name string, args ...string) {
	t.Helper()
	runFor(t, s.top, h, append([]string{"--name", name, "--network", "net1"}, args...)...)
	ip, err := h.ContainerIP(name, "net1")
	if err != nil {
		t.Fatal(err)
	}
	if !netip.MustParsePrefix(s.net1.Subnet).Contains(netip.MustParseAddr(ip)) {
		t.Fatalf("%s on %s got %s, outside net1's subnet %s", name, h.Name, ip, s.net1.Subnet)
	}
	mac, err := h.ContainerMAC(name, ip)
	if err != nil {
		t.Fatal(err)
	}
	s.ip[name], s.mac[name] = ip, mac
}

// runService starts the test HTTP server as name on h.
func (s *multiHost) runService(t *testing.T, h *Host, name string, args ...string) {
	t.Helper()
	s.run(t, h, name, append(append([]string{"-e", "NAME=" + name}, args...), HTTPImage)...)
}

// wantFDB waits until h's VXLAN device of net1 has FDB and neighbour entries for each container in names,
// pointing at the VTEP of the host it runs on (where).
func (s *multiHost) wantFDB(t *testing.T, h *Host, where map[string]*Host, timeout time.Duration) {
	t.Helper()
	Eventually(t, timeout, func() error {
		dev, err := h.VXLANDevice("net1")
		if err != nil {
			return err
		}
		fdb, err := h.FDB(dev)
		if err != nil {
			return err
		}
		neigh, err := h.Neigh("", dev)
		if err != nil {
			return err
		}
		for name, at := range where {
			if !slices.Contains(fdb[s.mac[name]], at.IP.String()) {
				return fmt.Errorf("%s %s: no FDB entry %s (%s) dst %s; have %v", h.Name, dev, s.mac[name], name, at.IP, fdb)
			}
			if neigh[s.ip[name]] != s.mac[name] {
				return fmt.Errorf("%s %s: neighbour %s (%s) is %q, want %s", h.Name, dev, s.ip[name], name, neigh[s.ip[name]], s.mac[name])
			}
		}
		return nil
	})
}

// noFDB returns an error while h's VXLAN device of net1 still has an FDB or neighbour entry of name.
func (s *multiHost) noFDB(h *Host, name string) error {
	dev, err := h.VXLANDevice("net1")
	if err != nil {
		return err
	}
	fdb, err := h.FDB(dev)
	if err != nil {
		return err
	}
	neigh, err := h.Neigh("", dev)
	if err != nil {
		return err
	}
	if dst, ok := fdb[s.mac[name]]; ok {
		return fmt.Errorf("%s %s still has FDB entry %s (%s) dst %v", h.Name, dev, s.mac[name], name, dst)
	}
	if mac, ok := neigh[s.ip[name]]; ok {
		return fmt.Errorf("%s %s still has neighbour %s (%s) lladdr %s", h.Name, dev, s.ip[name], name, mac)
	}
	return nil
}

func (s *multiHost) connectivity(t *testing.T) {
	s.runService(t, s.h1, "svc1")
	s.runService(t, s.h1, "svc2")
	s.runService(t, s.h2, "svc3")
	s.run(t, s.h3, "client", BusyboxImage, "sleep", "3600")
	seen := map[string]string{}
	for name, ip := range s.ip {
		if other, dup := seen[ip]; dup {
			t.Fatalf("%s and %s both got %s", name, other, ip)
		}
		seen[ip] = name
	}
	t.Logf("addresses on net1: %v", s.ip)
	start := time.Now()
	for _, name := range []string{"svc1", "svc2", "svc3"} {
		url := fmt.Sprintf("http://%s:8080/", s.ip[name])
		Eventually(t, 90*time.Second, func() error { return fetch(s.h3, "client", url, hello(name, s.ip[name])) })
	}
	t.Logf("HTTP from h3 to svc1, svc2 (h1) and svc3 (h2) by IP answered after %s", time.Since(start).Round(time.Millisecond))

	t.Run("Ping", s.ping)
	t.Run("UDP", s.udp)
	t.Run("ARPAndFDB", s.arpAndFDB)
}

// ping: the client on h3 pings a service on each other host.
func (s *multiHost) ping(t *testing.T) {
	for _, name := range []string{"svc1", "svc3"} {
		out, err := execIn(s.h3, "client", "ping", "-c", "3", "-W", "2", s.ip[name])
		if err != nil || !strings.Contains(out, " 0% packet loss") {
			t.Errorf("ping %s (%s) from h3: %q, %v", name, s.ip[name], out, err)
		}
	}
}

// udp: the client on h3 gets a UDP echo from a service on each other host.
func (s *multiHost) udp(t *testing.T) {
	for _, c := range []struct {
		h    *Host
		name string
	}{{s.h1, "svc1"}, {s.h2, "svc3"}, {s.h3, "client"}} {
		c.h.MustDocker(t, "cp", s.udpecho, c.name+":/udpecho")
	}
	for _, c := range []struct {
		h    *Host
		name string
	}{{s.h1, "svc1"}, {s.h2, "svc3"}} {
		c.h.MustDocker(t, "exec", "-d", "-e", "NAME="+c.name, c.name, "/udpecho", "serve", ":9999")
		want := "echo from " + c.name + ": hello-" + c.name
		Eventually(t, 30*time.Second, func() error {
			out, err := execIn(s.h3, "client", "/udpecho", "send", s.ip[c.name]+":9999", "hello-"+c.name)
			if err != nil || !strings.Contains(out, want) {
				return fmt.Errorf("UDP to %s from h3: %q, %v; want %q", c.name, out, err, want)
			}
			return nil
		})
	}
}

// arpAndFDB: the client knows each service's MAC, every VXLAN device has an FDB entry for each remote container
// and none for its own.
func (s *multiHost) arpAndFDB(t *testing.T) {
	neigh, err := s.h3.Neigh("client", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"svc1", "svc2", "svc3"} {
		if neigh[s.ip[name]] != s.mac[name] {
			t.Errorf("client's neighbour table has %s (%s) as %q, want its MAC %s; table %v",
				s.ip[name], name, neigh[s.ip[name]], s.mac[name], neigh)
		}
	}
	s.wantFDB(t, s.h3, map[string]*Host{"svc1": s.h1, "svc2": s.h1, "svc3": s.h2}, 30*time.Second)
	s.wantFDB(t, s.h1, map[string]*Host{"svc3": s.h2, "client": s.h3}, 30*time.Second)
	s.wantFDB(t, s.h2, map[string]*Host{"svc1": s.h1, "client": s.h3}, 30*time.Second)
	local := map[*Host]string{s.h1: "svc1", s.h2: "svc3", s.h3: "client"}
	for _, h := range []*Host{s.h1, s.h2, s.h3} {
		dev, _ := h.VXLANDevice("net1")
		fdb, _ := h.FDB(dev)
		t.Logf("%s: bridge fdb show dev %s: %v", h.Name, dev, fdb)
		if dst, ok := fdb[s.mac[local[h]]]; ok {
			t.Errorf("%s's VXLAN device has an FDB entry (dst %v) for its own container %s", h.Name, dst, local[h])
		}
	}
}

func (s *multiHost) endpointRemoval(t *testing.T) {
	if s.mac["svc3"] == "" {
		t.Skip("svc3 did not start")
	}
	start := time.Now()
	s.h2.MustDocker(t, "rm", "-f", "svc3")
	rm := time.Since(start)
	for _, h := range []*Host{s.h1, s.h3} {
		d := measure(t, start, time.Minute, func() error { return s.noFDB(h, "svc3") })
		t.Logf("svc3's FDB and neighbour entries left %s %s after docker rm -f on h2 (the rm itself took %s)",
			h.Name, d.Round(time.Millisecond), rm.Round(time.Millisecond))
	}
	// The other entries stay.
	s.wantFDB(t, s.h3, map[string]*Host{"svc1": s.h1, "svc2": s.h1}, 5*time.Second)
}
