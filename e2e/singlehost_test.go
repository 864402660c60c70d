//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// defaultPool is where weavego allocates subnets when none is given.
var defaultPool = netip.MustParsePrefix("10.32.0.0/12")

const underlayBody = "weavego-e2e underlay ok"

// singleHost is the fixture of TestSingleHost: one host running the plugin alone (no peers, no key) and a web
// server in the underlay. Each step creates the networks and containers it needs and removes them at its end.
type singleHost struct {
	c           *Cluster
	h           *Host
	underlayURL string // the underlay web server, which answers underlayBody
}

// TestSingleHost drives the plugin on one host: IPAM defaults and static addresses, traffic by address and
// name, egress and --internal, published ports, address reuse and exhaustion, bridge removal, malformed
// requests, -o options it does not know, the interface name a container asks for, and disable/enable.
func TestSingleHost(t *testing.T) {
	RequirePlugin(t)
	c := NewCluster(t, ClusterOptions{Hosts: 1})
	s := &singleHost{c: c, h: c.Host(0)}
	start := time.Now()
	if err := s.h.InstallPlugin(nil); err != nil {
		t.Fatalf("install plugin: %v", err)
	}
	t.Logf("plugin enabled in %s", time.Since(start).Round(100*time.Millisecond))
	s.underlayURL = c.StartUnderlayWeb(t, 8081, underlayBody)

	runSteps(t, []step{
		{"NetworkInspect", s.networkInspect},
		{"UnknownOptionsRefused", s.unknownOptionsRefused},
		{"HTTPByIPAndName", s.httpByIPAndName},
		{"StaticSubnetAndIP", s.staticSubnetAndIP},
		{"Egress", s.egress},
		{"InternalHasNoEgress", s.internalHasNoEgress},
		{"PublishedPort", s.publishedPort},
		{"EndpointOptions", s.endpointOptions},
		{"AddressesFreedAndPoolExhausted", s.addressesFreedAndPoolExhausted},
		{"NetworkRemoveDeletesBridge", s.networkRemoveDeletesBridge},
		{"MalformedJSON", s.malformedJSON},
		{"PluginDisableEnable", s.pluginDisableEnable},
	})
}

func (s *singleHost) networkInspect(t *testing.T) {
	s.h.CreateNetwork(t, "net1", netArgs...)
	cfg := inspectIPAM(t, s.h, "net1")[0]
	subnet, err := netip.ParsePrefix(cfg.Subnet)
	if err != nil || subnet.Bits() < defaultPool.Bits() || !defaultPool.Contains(subnet.Addr()) {
		t.Fatalf("subnet %q is not inside %s", cfg.Subnet, defaultPool)
	}
	gw, err := netip.ParseAddr(cfg.Gateway)
	if err != nil || !subnet.Contains(gw) {
		t.Fatalf("gateway %q is not an address in %s", cfg.Gateway, subnet)
	}
}

func (s *singleHost) httpByIPAndName(t *testing.T) {
	s.h.CreateNetwork(t, "net1", netArgs...)
	subnet := netip.MustParsePrefix(inspectIPAM(t, s.h, "net1")[0].Subnet)
	for _, name := range []string{"svc1", "svc2"} {
		s.h.RunContainer(t, "--name", name, "--network", "net1", "-e", "NAME="+name, HTTPImage)
	}
	s.h.RunContainer(t, "--name", "client", "--network", "net1", BusyboxImage, "sleep", "3600")
	for _, name := range []string{"svc1", "svc2"} {
		ip, err := s.h.ContainerIP(name, "net1")
		if err != nil {
			t.Fatal(err)
		}
		if a, err := netip.ParseAddr(ip); err != nil || !subnet.Contains(a) {
			t.Fatalf("%s has address %q outside its network's subnet %s", name, ip, subnet)
		}
		want := fmt.Sprintf("Hi! I'm %s service and my container's IP is %s", name, ip)
		wantBody(t, s.h, "client", fmt.Sprintf("http://%s:8080/", ip), want)
		wantBody(t, s.h, "client", fmt.Sprintf("http://%s:8080/", name), want)
	}
}

func (s *singleHost) staticSubnetAndIP(t *testing.T) {
	s.h.CreateNetwork(t, "static", append(netArgs, "--subnet", "10.99.0.0/24", "--gateway", "10.99.0.254",
		"--ip-range", "10.99.0.128/25")...)
	cfg := inspectIPAM(t, s.h, "static")[0]
	if cfg.Subnet != "10.99.0.0/24" || cfg.Gateway != "10.99.0.254" || cfg.IPRange != "10.99.0.128/25" {
		t.Fatalf("IPAM config %+v, want subnet 10.99.0.0/24, gateway 10.99.0.254, range 10.99.0.128/25", cfg)
	}
	s.h.RunContainer(t, "--name", "fixed", "--network", "static", "--ip", "10.99.0.200", BusyboxImage, "sleep", "3600")
	if ip, err := s.h.ContainerIP("fixed", "static"); err != nil || ip != "10.99.0.200" {
		t.Fatalf("docker run --ip 10.99.0.200 got %q, %v", ip, err)
	}
	if out, err := execIn(s.h, "fixed", "ip", "-4", "-o", "addr", "show"); err != nil || !strings.Contains(out, "10.99.0.200/24") {
		t.Fatalf("container does not have 10.99.0.200/24 on an interface: %q, %v", out, err)
	}
	s.h.RunContainer(t, "--name", "dynamic", "--network", "static", BusyboxImage, "sleep", "3600")
	ip, err := s.h.ContainerIP("dynamic", "static")
	if err != nil {
		t.Fatal(err)
	}
	if a, err := netip.ParseAddr(ip); err != nil || !netip.MustParsePrefix("10.99.0.128/25").Contains(a) || ip == "10.99.0.200" || ip == "10.99.0.254" {
		t.Fatalf("dynamic address %q: want a free address in 10.99.0.128/25", ip)
	}

	t.Cleanup(func() { _, _ = s.h.Docker("rm", "-f", "dup") })
	_, err = s.h.Docker("run", "-d", "--name", "dup", "--network", "static", "--ip", "10.99.0.200", BusyboxImage, "sleep", "3600")
	if err == nil {
		t.Fatal("a second container got 10.99.0.200")
	}
	msg := err.Error()
	readable(t, msg)
	if !strings.Contains(msg, "10.99.0.200") && !regexp.MustCompile(`(?i)in use|already|allocated`).MatchString(msg) {
		t.Errorf("error does not say the address is taken: %s", msg)
	}
	t.Logf("duplicate --ip refused: %s", msg)
	if ip, err := s.h.ContainerIP("fixed", "static"); err != nil || ip != "10.99.0.200" {
		t.Fatalf("the refused duplicate changed the first container's address: %q, %v", ip, err)
	}
}

func (s *singleHost) egress(t *testing.T) {
	s.h.CreateNetwork(t, "egress", netArgs...)
	s.h.RunContainer(t, "--name", "out", "--network", "egress", BusyboxImage, "sleep", "3600")
	wantBody(t, s.h, "out", s.underlayURL, underlayBody)
}

func (s *singleHost) internalHasNoEgress(t *testing.T) {
	s.h.CreateNetwork(t, "internal", append(netArgs, "--internal")...)
	s.h.RunContainer(t, "--name", "isolated", "--network", "internal", BusyboxImage, "sleep", "3600")
	if _, err := s.h.ContainerIP("isolated", "internal"); err != nil {
		t.Fatal(err)
	}
	// Control: the server answers a container on a normal network at this moment.
	s.h.CreateNetwork(t, "control", netArgs...)
	s.h.RunContainer(t, "--name", "control", "--network", "control", BusyboxImage, "sleep", "3600")
	wantBody(t, s.h, "control", s.underlayURL, underlayBody)
	if out, err := execIn(s.h, "isolated", Wget(s.underlayURL)...); err == nil {
		t.Fatalf("a container on an --internal network reached %s: %q", s.underlayURL, out)
	}
}

func (s *singleHost) publishedPort(t *testing.T) {
	s.h.CreateNetwork(t, "pub", netArgs...)
	s.h.RunContainer(t, "--name", "pubsrv", "--network", "pub", "-e", "NAME=pubsrv", "-p", "18080:8080", HTTPImage)
	url := fmt.Sprintf("http://%s:18080/", s.h.IP)
	Eventually(t, 60*time.Second, func() error {
		out, err := s.c.UnderlayExec(Wget(url)...)
		if err != nil || !strings.Contains(out, "Hi! I'm pubsrv service") {
			return fmt.Errorf("%s from the underlay namespace: %q, %v", url, out, err)
		}
		return nil
	})
}

// endpointOptions: `docker network connect --driver-opt com.docker.network.endpoint.ifname=data0` names the
// container's interface data0 on engine 29 (iptables backend here; TestEngine29 does it on nftables); Docker
// 20.10 drops the name a plugin answers and has no interface sysctls, so there both are refused with a sentence
// naming the engine.
func (s *singleHost) endpointOptions(t *testing.T) {
	s.h.CreateNetwork(t, "named1", netArgs...)
	s.h.CreateNetwork(t, "named2", netArgs...)
	s.h.RunContainer(t, "--name", "named", "--network", "named1", BusyboxImage, "sleep", "3600")
	Eventually(t, 30*time.Second, func() error {
		if st, err := s.h.Status(); err != nil || st.Engine.Version == "" {
			return fmt.Errorf("the plugin has not read the engine's version: %+v, %v", st.Engine, err)
		}
		return nil
	})
	_, err := s.h.Docker("network", "connect", "--driver-opt", "com.docker.network.endpoint.ifname=data0", "named2", "named")
	if Engine() == Engine29 {
		if err != nil {
			t.Fatalf("connect with ifname data0: %v", err)
		}
		ip, err := s.h.ContainerIP("named", "named2")
		if err != nil {
			t.Fatal(err)
		}
		if dev, err := s.h.ContainerDev("named", ip); err != nil || dev != "data0" {
			t.Fatalf("the interface on named2 is %q (%v), want data0", dev, err)
		}
		return
	}
	if err == nil {
		t.Fatalf("engine %s: connect with ifname data0 was accepted, but the engine names the interface eth<N>", Engine())
	}
	readable(t, err.Error())
	if !strings.Contains(err.Error(), "does not give a network plugin's containers the interface name") {
		t.Errorf("the refusal does not say why: %v", err)
	}
	t.Logf("refused: %s", lastLine(err.Error()))
	_, err = s.h.Docker("network", "connect", "--driver-opt", "com.docker.network.endpoint.sysctls=net.ipv4.conf.IFNAME.log_martians=1",
		"named2", "named")
	if err == nil || !strings.Contains(err.Error(), "does not apply com.docker.network.endpoint.sysctls") {
		t.Fatalf("engine %s: connect with interface sysctls: %v, want the refusal", Engine(), err)
	}
	readable(t, err.Error())
}

func (s *singleHost) addressesFreedAndPoolExhausted(t *testing.T) {
	// A /29 holds 6 host addresses; the gateway takes one, leaving 5 for containers.
	s.h.CreateNetwork(t, "small", append(netArgs, "--subnet", "10.98.0.0/29")...)
	runSmall := func(name string) (string, error) {
		t.Cleanup(func() { _, _ = s.h.Docker("rm", "-f", name) })
		return s.h.Docker("run", "-d", "--name", name, "--network", "small", BusyboxImage, "sleep", "3600")
	}
	for round := 0; round < 4; round++ {
		var names []string
		for i := 0; i < 4; i++ {
			name := fmt.Sprintf("r%d-%d", round, i)
			if _, err := runSmall(name); err != nil {
				t.Fatalf("round %d: addresses not freed by removed containers: %v", round, err)
			}
			names = append(names, name)
		}
		s.h.MustDocker(t, append([]string{"rm", "-f"}, names...)...)
	}
	for i := 0; i < 5; i++ {
		if _, err := runSmall(fmt.Sprintf("full-%d", i)); err != nil {
			t.Fatalf("container %d of 5 on a /29: %v", i+1, err)
		}
	}
	_, err := runSmall("one-too-many")
	if err == nil {
		t.Fatal("a sixth container got an address on a /29 with a gateway")
	}
	readable(t, err.Error())
	if !regexp.MustCompile(`(?i)exhaust|no (more |free |available )*(ip )?address|full|no .*available`).MatchString(err.Error()) {
		t.Errorf("error does not say the pool is exhausted: %v", err)
	}
	t.Logf("pool exhausted: %v", err)
	s.h.MustDocker(t, "rm", "-f", "one-too-many", "full-0")
	if _, err := runSmall("after-free"); err != nil {
		t.Fatalf("address not reusable after removing a container from a full pool: %v", err)
	}
}

func (s *singleHost) networkRemoveDeletesBridge(t *testing.T) {
	s.h.CreateNetwork(t, "gone", netArgs...)
	s.h.RunContainer(t, "--name", "brief", "--network", "gone", BusyboxImage, "sleep", "3600")
	if links := bridgeLinks(t, s.h); len(links) == 0 {
		t.Fatal("no wgb- bridge in a network namespace while a network is in use")
	}
	if links, err := s.h.Links(); err != nil || slices.ContainsFunc(links, func(l string) bool { return strings.HasPrefix(l, "wgb-") }) {
		t.Errorf("a wgb- bridge in the host namespace (%v, %v): it belongs in the network's namespace", links, err)
	}
	s.h.MustDocker(t, "rm", "-f", "brief")
	s.h.MustDocker(t, "network", "rm", "gone")
	Eventually(t, 30*time.Second, func() error {
		if links := bridgeLinks(t, s.h); len(links) > 0 {
			return fmt.Errorf("bridges left after docker network rm: %v", links)
		}
		if nss, err := s.h.NetworkNamespaces(); err != nil || len(nss) > 0 {
			return fmt.Errorf("network namespaces left after docker network rm: %v %v", nss, err)
		}
		// No thread of the plugin keeps the removed namespace (or any other) alive.
		if threads, err := s.h.PluginThreadsElsewhere(); err != nil || len(threads) > 0 {
			return fmt.Errorf("plugin threads outside the host namespace after docker network rm: %v %v", threads, err)
		}
		return nil
	})
}

func (s *singleHost) malformedJSON(t *testing.T) {
	sock, err := s.h.PluginSocket()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, body string }{
		{"/NetworkDriver.CreateNetwork", `{"NetworkID": "abc", "IPv4Data": [`},
		{"/NetworkDriver.CreateEndpoint", `not json at all`},
		{"/NetworkDriver.Join", `{"NetworkID": 42}`},
		{"/IpamDriver.RequestPool", `{"Pool": `},
		{"/IpamDriver.RequestAddress", `[`},
	} {
		code, body, err := PostPlugin(sock, tc.path, tc.body)
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		var reply struct{ Err string }
		if code != 400 && code != 500 {
			t.Errorf("%s with %q: status %d, want 400 or 500", tc.path, tc.body, code)
		}
		if err := json.Unmarshal(body, &reply); err != nil || reply.Err == "" {
			t.Errorf("%s with %q: body %q is not {\"Err\": \"...\"}", tc.path, tc.body, body)
		}
	}
	code, body, err := PostPlugin(sock, "/NetworkDriver.GetCapabilities", "{}")
	var caps struct{ Scope string }
	if err != nil || code != 200 || json.Unmarshal(body, &caps) != nil || caps.Scope != "local" {
		t.Fatalf("plugin after malformed requests: GetCapabilities %d %q, %v", code, body, err)
	}
	s.h.CreateNetwork(t, "still", netArgs...)
	s.h.MustDocker(t, "run", "--rm", "--network", "still", BusyboxImage, "true")
}

func (s *singleHost) pluginDisableEnable(t *testing.T) {
	if out := s.h.MustDocker(t, "network", "ls", "--quiet", "--filter", "driver="+Driver); out != "" {
		t.Fatalf("weavego networks left by earlier subtests: %s", out)
	}
	s.h.MustDocker(t, "plugin", "disable", Driver)
	if out := s.h.MustDocker(t, "plugin", "inspect", "--format", "{{.Enabled}}", Driver); out != "false" {
		t.Fatalf("plugin enabled after disable: %s", out)
	}
	s.h.MustDocker(t, "plugin", "enable", Driver)
	if out := s.h.MustDocker(t, "plugin", "inspect", "--format", "{{.Enabled}}", Driver); out != "true" {
		t.Fatalf("plugin not enabled after enable: %s", out)
	}
	s.h.CreateNetwork(t, "again", netArgs...)
	s.h.RunContainer(t, "--name", "again", "--network", "again", BusyboxImage, "sleep", "3600")
	ip, err := s.h.ContainerIP("again", "again")
	if a, perr := netip.ParseAddr(ip); err != nil || perr != nil || !defaultPool.Contains(a) {
		t.Fatalf("container after re-enable has address %q (%v), want one in %s", ip, err, defaultPool)
	}
}

// bridgeLinks lists the weavego bridges (wgb-*) in the namespaces of h's networks.
func bridgeLinks(t *testing.T, h *Host) []string {
	t.Helper()
	links, err := h.NetworkLinks()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range links {
		if strings.HasPrefix(l, "wgb-") {
			out = append(out, l)
		}
	}
	return out
}
