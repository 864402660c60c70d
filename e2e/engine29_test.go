//go:build linux

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// nftHosts is the fixture of TestEngine29: two meshed hosts whose engine 29 runs its nftables firewall backend,
// the network nft1 created on h1 with the server svc there, and a web server in the underlay namespace.
type nftHosts struct {
	c           *Cluster
	h1, h2      *Host
	underlayURL string
	svcIP       string
}

// TestEngine29 runs Docker 29 with its nftables firewall backend ("firewall-backend": "nftables", no DOCKER-USER
// chain, IP forwarding left as the host has it) and checks what weavego promises there: the engine's backend in
// `weavego status`, containers of two hosts reaching each other, egress through docker_gwbridge to the underlay,
// -p from the host and from the underlay, no egress on --internal, two networks isolated, no gossip port for
// containers, a disabled plugin's networks kept in the host namespace. Then the engine features of Docker 28/29 on a weavego network: the interface name
// (com.docker.network.endpoint.ifname) and prefix (-o com.docker.network.container_iface_prefix), interface
// sysctls (com.docker.network.endpoint.sysctls) and
// --gw-priority beside a bridge network. Engine 29 only: 20.10 has neither the backend nor the features.
func TestEngine29(t *testing.T) {
	RequirePlugin(t)
	if Engine() != Engine29 {
		t.Skipf("engine %s has no nftables firewall backend and no per-endpoint interface names: run with WEAVEGO_ENGINE=29 (make e2e29)", Engine())
	}
	c := NewCluster(t, ClusterOptions{Hosts: 2, Mesh: 2,
		Daemon: map[string]any{"firewall-backend": "nftables", "dns": []string{DNSServiceAddr}}})
	s := &nftHosts{c: c, h1: c.Host(0), h2: c.Host(1)}
	s.underlayURL = c.StartUnderlayWeb(t, 8081, underlayBody)
	s.h1.CreateNetwork(t, "nft1", netArgs...)
	waitNetwork(t, "nft1", s.h2)
	s.h1.RunContainer(t, "--name", "svc", "--network", "nft1", "-e", "NAME=svc", "-p", "18080:8080", HTTPImage)
	ip, err := s.h1.ContainerIP("svc", "nft1")
	if err != nil {
		t.Fatal(err)
	}
	s.svcIP = ip
	s.h2.RunContainer(t, "--name", "client", "--network", "nft1", BusyboxImage, "sleep", "3600")
	s.h2.CreateNetwork(t, "nft2", append(netArgs, "-o", "com.docker.network.container_iface_prefix=wg")...)
	waitNetwork(t, "nft2", s.h1)
	runSteps(t, []step{
		{"BackendSeen", s.backendSeen},
		{"AcrossHosts", s.acrossHosts},
		{"Egress", s.egress},
		{"PublishedPort", s.publishedPort},
		{"InternalHasNoEgress", s.internalHasNoEgress},
		{"NetworksIsolated", s.networksIsolated},
		{"NoGossipPort", s.noGossipPort},
		{"Ifname", s.ifname},
		{"Sysctls", s.sysctls},
		{"GwPriority", s.gwPriority},
		{"PluginDisabled", s.pluginDisabled},
		{"ForwardingOff", s.forwardingOff},
	}, "BackendSeen")
}

// backendSeen: both engines run the nftables backend, and each plugin found it and says so in its status.
func (s *nftHosts) backendSeen(t *testing.T) {
	for _, h := range []*Host{s.h1, s.h2} {
		if fb := strings.TrimSpace(h.MustDocker(t, "info", "--format", "{{json .FirewallBackend}}")); !strings.Contains(fb, `"nftables"`) {
			t.Fatalf("%s: docker info FirewallBackend is %s, want nftables", h.Name, fb)
		}
		Eventually(t, 60*time.Second, func() error {
			st, err := h.Status()
			if err != nil {
				return err
			}
			if st.Engine.FirewallBackend != "nftables" || st.Engine.IPForward != "on" {
				return fmt.Errorf("%s: weavego status shows engine %+v, want firewall backend nftables and IPv4 forwarding on", h.Name, st.Engine)
			}
			return nil
		})
	}
}

// acrossHosts: client on h2 reaches svc on h1 by address and by name (dnsd, which Docker's resolver asks as
// the daemon's "dns").
func (s *nftHosts) acrossHosts(t *testing.T) {
	wantBody(t, s.h2, "client", fmt.Sprintf("http://%s:8080/", s.svcIP), hello("svc", s.svcIP))
	wantBody(t, s.h2, "client", "http://svc:8080/", hello("svc", s.svcIP))
}

// egress: the container of h2 reaches the underlay's web server through docker_gwbridge.
func (s *nftHosts) egress(t *testing.T) {
	wantBody(t, s.h2, "client", s.underlayURL, underlayBody)
}

// publishedPort: svc's -p 18080:8080 answers on h1's own namespace (docker-proxy) and from the underlay (DNAT
// and forwarding through docker_gwbridge).
func (s *nftHosts) publishedPort(t *testing.T) {
	want := "Hi! I'm svc service"
	Eventually(t, 60*time.Second, func() error {
		for _, url := range []string{"http://127.0.0.1:18080/", fmt.Sprintf("http://%s:18080/", s.h1.IP)} {
			if out, err := s.h1.Exec(append([]string{"busybox"}, Wget(url)...)...); err != nil || !strings.Contains(out, want) {
				return fmt.Errorf("%s from h1's namespace: %q, %v", url, out, err)
			}
		}
		url := fmt.Sprintf("http://%s:18080/", s.h1.IP)
		if out, err := s.c.UnderlayExec(Wget(url)...); err != nil || !strings.Contains(out, want) {
			return fmt.Errorf("%s from the underlay namespace: %q, %v", url, out, err)
		}
		return nil
	})
}

func (s *nftHosts) internalHasNoEgress(t *testing.T) {
	s.h1.CreateNetwork(t, "nftint", append(netArgs, "--internal")...)
	s.h1.RunContainer(t, "--name", "isolated", "--network", "nftint", BusyboxImage, "sleep", "3600")
	if out, err := execIn(s.h1, "isolated", Wget(s.underlayURL)...); err == nil {
		t.Fatalf("a container on an --internal network reached %s: %q", s.underlayURL, out)
	}
	if ok, saw := reaches(s.h1, "isolated", s.svcIP); ok {
		t.Fatalf("a container on an --internal network reached svc on nft1 at %s: %q", s.svcIP, saw)
	}
}

// networksIsolated: a container on nft2 reaches no container of nft1, on its host or the other.
func (s *nftHosts) networksIsolated(t *testing.T) {
	s.h1.RunContainer(t, "--name", "other", "--network", "nft2", BusyboxImage, "sleep", "3600")
	clientIP, err := s.h2.ContainerIP("client", "nft1")
	if err != nil {
		t.Fatal(err)
	}
	unreachable(t, s.h1, "other", s.svcIP, "svc on nft1, same host")
	unreachable(t, s.h1, "other", clientIP, "client on nft1, other host")
}

// noGossipPort: a container reaches the gossip port of no host, at its gateway, its host's or the other's
// underlay address (through docker_gwbridge).
func (s *nftHosts) noGossipPort(t *testing.T) {
	gw := inspectIPAM(t, s.h2, "nft1")[0].Gateway
	before := fromContainerDrops(t, s.h2)
	for _, addr := range []string{gw, s.h2.IP.String(), s.h1.IP.String()} {
		if connects(s.h2, "client", addr, gossipPort) {
			t.Errorf("the container on h2 connected to %s:%d", addr, gossipPort)
		}
	}
	if d := fromContainerDrops(t, s.h2) - before; d == 0 {
		t.Errorf("h2's input rules counted no drop of the container's connections to its gossip port")
	}
}

// ifname: the name asked with com.docker.network.endpoint.ifname is the container's interface on a weavego
// network, and one the kernel would refuse is refused with a sentence.
func (s *nftHosts) ifname(t *testing.T) {
	s.h1.MustDocker(t, "create", "--name", "named", "--network", "nft1", BusyboxImage, "sleep", "3600")
	t.Cleanup(func() { _, _ = s.h1.Docker("rm", "-f", "named") })
	s.h1.MustDocker(t, "network", "connect", "--driver-opt", "com.docker.network.endpoint.ifname=data0", "nft2", "named")
	s.h1.MustDocker(t, "start", "named")
	ip, err := s.h1.ContainerIP("named", "nft2")
	if err != nil {
		t.Fatal(err)
	}
	out, err := execIn(s.h1, "named", "ip", "-4", "-o", "addr", "show", "dev", "data0")
	if err != nil || !strings.Contains(out, ip+"/") {
		t.Fatalf("container has no interface data0 with its nft2 address %s: %q, %v", ip, out, err)
	}
	if out, err := execIn(s.h1, "named", "ip", "-o", "link", "show", "eth0"); err != nil || !strings.Contains(out, "eth0") {
		t.Errorf("the first network's interface is not eth0: %q, %v", out, err)
	}
	s.h1.RunContainer(t, "--name", "badname", "--network", "nft1", BusyboxImage, "sleep", "3600")
	_, err = s.h1.Docker("network", "connect", "--driver-opt", "com.docker.network.endpoint.ifname=far/too/long/name", "nft2", "badname")
	if err == nil {
		t.Fatal("an interface name with '/' was accepted")
	}
	readable(t, err.Error())
	_, reply, _ := strings.Cut(err.Error(), "Error response from daemon:")
	if !strings.Contains(reply, "com.docker.network.endpoint.ifname") || !strings.Contains(reply, "longer than 15 characters") {
		t.Errorf("the refusal does not name the option and why: %v", err)
	}
	t.Logf("ifname data0 honoured (%s); bad name refused: %v", strings.TrimSpace(out), lastLine(err.Error()))
}

// sysctls: com.docker.network.endpoint.sysctls sets the sysctl on the weavego interface, whatever its name;
// nft2's interface is named after its -o com.docker.network.container_iface_prefix.
func (s *nftHosts) sysctls(t *testing.T) {
	s.h2.MustDocker(t, "create", "--name", "tuned", "--network", "nft1", BusyboxImage, "sleep", "3600")
	t.Cleanup(func() { _, _ = s.h2.Docker("rm", "-f", "tuned") })
	s.h2.MustDocker(t, "network", "connect", "--driver-opt",
		"com.docker.network.endpoint.sysctls=net.ipv4.conf.IFNAME.log_martians=1", "nft2", "tuned")
	s.h2.MustDocker(t, "start", "tuned")
	for network, want := range map[string]string{"nft2": "1", "nft1": "0"} {
		ip, err := s.h2.ContainerIP("tuned", network)
		if err != nil {
			t.Fatal(err)
		}
		dev, err := s.h2.ContainerDev("tuned", ip)
		if err != nil {
			t.Fatal(err)
		}
		if network == "nft2" && !strings.HasPrefix(dev, "wg") {
			t.Errorf("the interface on nft2 is %s, want wg<N> (-o com.docker.network.container_iface_prefix=wg)", dev)
		}
		out, err := execIn(s.h2, "tuned", "cat", "/proc/sys/net/ipv4/conf/"+dev+"/log_martians")
		if err != nil || strings.TrimSpace(out) != want {
			t.Errorf("log_martians of %s (on %s) is %q (%v), want %s", dev, network, strings.TrimSpace(out), err, want)
		}
	}
}

// gwPriority: a container on a bridge network and a weavego network, with a higher --gw-priority on the
// weavego one, keeps the bridge's default route (a weavego endpoint offers no gateway, so Docker has no
// gateway to prefer there) and reaches both its weavego peers and the underlay.
func (s *nftHosts) gwPriority(t *testing.T) {
	s.h2.MustDocker(t, "network", "create", "--subnet", "10.77.7.0/24", "plainbr")
	t.Cleanup(func() { _, _ = s.h2.Docker("network", "rm", "plainbr") })
	s.h2.MustDocker(t, "create", "--name", "prio", "--network", "plainbr", BusyboxImage, "sleep", "3600")
	t.Cleanup(func() { _, _ = s.h2.Docker("rm", "-f", "prio") })
	body := `{"Container":"prio","EndpointConfig":{"GwPriority":100}}`
	if code, out, err := s.h2.DockerAPI("POST", "/v1.48/networks/nft1/connect", body); err != nil || code/100 != 2 {
		t.Fatalf("connect prio to nft1 with GwPriority 100: %d %s %v", code, out, err)
	}
	s.h2.MustDocker(t, "start", "prio")
	out, err := execIn(s.h2, "prio", "ip", "-4", "route", "show", "default")
	if err != nil || !strings.Contains(out, "via 10.77.7.1") {
		t.Fatalf("default route %q (%v), want via the bridge's gateway 10.77.7.1", strings.TrimSpace(out), err)
	}
	wantBody(t, s.h2, "prio", fmt.Sprintf("http://%s:8080/", s.svcIP), hello("svc", s.svcIP))
	wantBody(t, s.h2, "prio", s.underlayURL, underlayBody)
	if nets := s.h2.MustDocker(t, "inspect", "--format", "{{range $n, $_ := .NetworkSettings.Networks}}{{$n}} {{end}}", "prio"); strings.Contains(nets, "docker_gwbridge") {
		t.Errorf("prio is on docker_gwbridge beside a bridge network: %s", nets)
	}
	t.Logf("GwPriority 100 on nft1 beside plainbr: default %s", strings.TrimSpace(out))
}

// pluginDisabled: while h1's plugin is disabled, its networks wait in h1's namespace (parked), where weavego's
// forward rules live in its own table (the nftables backend has no "ip filter" FORWARD chain) and client on h2
// still reaches svc on h1; enabled again, the plugin takes them back.
func (s *nftHosts) pluginDisabled(t *testing.T) {
	s.h1.MustDocker(t, "plugin", "disable", "-f", PluginName)
	enabled := false
	t.Cleanup(func() {
		if !enabled {
			_, _ = s.h1.Docker("plugin", "enable", PluginName)
		}
	})
	if out, err := s.h1.Exec("nft", "list", "chain", "ip", "weavego", "forward"); err != nil || !strings.Contains(out, "wgb-") {
		t.Errorf("h1 has no forward rules of its own for its parked bridges: %q, %v", out, err)
	}
	wantBody(t, s.h2, "client", fmt.Sprintf("http://%s:8080/", s.svcIP), hello("svc", s.svcIP))
	enablePlugin(t, s.h1)
	enabled = true
	wantBody(t, s.h2, "client", fmt.Sprintf("http://%s:8080/", s.svcIP), hello("svc", s.svcIP))
}

// setForward writes net.ipv4.ip_forward in h's namespace.
func setForward(h *Host, v string) error {
	_, err := h.Exec("sh", "-c", "echo "+v+" > /proc/sys/net/ipv4/ip_forward")
	return err
}

// forwardingOff: with IPv4 forwarding off in h1's namespace, as Docker's nftables backend leaves a host that
// never had it on, weavego's status names the problem and its fix; h1's containers lose egress and svc's -p
// answers on h1 itself but not from the underlay; weavego's own traffic between hosts is untouched (it is
// bridged in the networks' namespaces and VXLAN from the host's, never forwarded). Forwarding on again restores
// egress.
func (s *nftHosts) forwardingOff(t *testing.T) {
	if err := setForward(s.h1, "0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = setForward(s.h1, "1") })
	Eventually(t, 30*time.Second, func() error {
		out, err := s.h1.WeavegoCLI("status", "problems")
		if err != nil || !strings.Contains(out, "IPv4 forwarding is off") || !strings.Contains(out, "net.ipv4.ip_forward=1") {
			return fmt.Errorf("weavego status problems on h1: %q, %v", out, err)
		}
		return nil
	})
	if out, err := execIn(s.h1, "svc", shortWget(s.underlayURL)...); err == nil {
		t.Errorf("svc on h1 reached %s with IPv4 forwarding off: %q", s.underlayURL, out)
	}
	url := fmt.Sprintf("http://%s:18080/", s.h1.IP)
	if out, err := s.c.UnderlayExec(shortWget(url)...); err == nil {
		t.Errorf("%s answered the underlay with IPv4 forwarding off: %q", url, out)
	}
	if out, err := s.h1.Exec(append([]string{"busybox"}, Wget("http://127.0.0.1:18080/")...)...); err != nil || !strings.Contains(out, "Hi! I'm svc service") {
		t.Errorf("svc's -p from h1 itself with forwarding off: %q, %v", out, err)
	}
	wantBody(t, s.h2, "client", fmt.Sprintf("http://%s:8080/", s.svcIP), hello("svc", s.svcIP))
	if err := setForward(s.h1, "1"); err != nil {
		t.Fatal(err)
	}
	wantBody(t, s.h1, "svc", s.underlayURL, underlayBody)
}

// shortWget is Wget bounded by 3 s, for fetches that must fail: the positive controls beside them answer at once.
func shortWget(url string) []string {
	return []string{"busybox", "timeout", "3", "busybox", "wget", "-qO-", url}
}
