//go:build linux

package bench

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weavego/weavego/e2e"
)

// Names of the contenders, in the order every repetition measures them.
const (
	benchUnderlay = "underlay"
	benchHand     = "hand-vxlan"
	benchOverlay  = "docker-overlay"
	benchWeavego  = "weavego"
	// benchWeavegoDirect is weavego on a -o direct network: unicast between the hosts without VXLAN.
	benchWeavegoDirect = "weavego-direct"
	benchBridge        = "docker-bridge"
	// benchWeavegoInternal is weavego on an --internal network (attach only).
	benchWeavegoInternal = "weavego-internal"
)

// Networks and addresses the benchmark uses on every host.
const (
	benchHandVNI      = "4242"
	benchHandPort     = "4791" // neither weavego's 4789 nor the overlay's data-path port
	benchOverlayPort  = "4790" // swarm --data-path-port, away from weavego's 4789
	benchMTU          = 1450   // weavego's MTU on a 1500-byte underlay
	benchOverlayNet   = "benchovl"
	benchWeaveNet     = "benchwg"
	benchBridgeNet    = "benchbr"
	benchWeaveSubnet  = "10.99.0.0/24"
	benchDirectNet    = "benchwgd"
	benchDirectSubnet = "10.97.0.0/24"
	benchOvlSubnet    = "10.98.0.0/24"
)

// benchPath is one way from a client namespace on h1 to a server namespace on h2.
type benchPath struct {
	name             string
	clientNS, server string // namespace paths for nsenter --net
	serverIP         string
}

// bench is the state of one TestBench run. Its maps are filled by the set-up steps, which run one after
// another, and only read afterwards.
type bench struct {
	t   *testing.T // the top-level test: everything that must outlive a step is cleaned up with it
	c   *e2e.Cluster
	rep *benchReport
	// paths holds the contenders that could be set up, by name.
	paths map[string]*benchPath
	// weaveNS is, per host index, the namespace of a sleeping container on the weavego network; ovlNS likewise
	// for the Docker overlay network.
	weaveNS, ovlNS map[int]string
	// handNetNS is, per host index (h1, h2), the namespace of the hand-built VXLAN network.
	handNetNS [2]string
	// key is the cluster key every weavego host is given.
	key string
}

func (b *bench) ordered() []*benchPath {
	var out []*benchPath
	for _, n := range []string{benchUnderlay, benchHand, benchOverlay, benchWeavego, benchWeavegoDirect} {
		if p := b.paths[n]; p != nil {
			out = append(out, p)
		}
	}
	return out
}

// nsName is the name of a namespace of this run: the harness sweep removes whatever carries the run's prefix.
func (b *bench) nsName(suffix string) string {
	return fmt.Sprintf("%s%s-%s", e2e.Prefix, b.c.ID, suffix)
}

// sh runs a command and fails the current step on error.
func benchMust(t testing.TB, args ...string) string {
	t.Helper()
	out, err := e2e.Run(time.Minute, args...)
	if err != nil {
		t.Fatalf("bench: %v", err)
	}
	return strings.TrimSpace(out)
}

// container starts a sleeping busybox container on h, names its network namespace (so that tools started
// in it are swept with the run) and returns that namespace's path and the container's address on network.
func (b *bench) container(t testing.TB, h *e2e.Host, network, name string, extra ...string) (ns, ip string) {
	t.Helper()
	args := append([]string{"run", "-d", "--name", name, "--network", network}, extra...)
	id := h.MustDocker(t, append(args, e2e.BusyboxImage, "sleep", "1d")...)
	nsName := b.nsName(name)
	b.t.Cleanup(func() {
		_, _ = e2e.Run(30*time.Second, "ip", "netns", "delete", nsName)
		if _, err := h.Docker("rm", "-f", id); err != nil && !strings.Contains(err.Error(), "No such container") {
			b.t.Logf("bench: cleanup: %v", err)
		}
	})
	pid := h.MustDocker(t, "inspect", "--format", "{{.State.Pid}}", id)
	benchMust(t, "ip", "netns", "attach", nsName, pid)
	ip, err := h.ContainerIP(id, network)
	if err != nil {
		t.Fatalf("bench: %v", err)
	}
	return filepath.Join(e2e.NetnsDir, nsName), ip
}

// setupUnderlay adds the host-to-host path: h1's namespace to h2's.
func (b *bench) setupUnderlay() {
	h1, h2 := b.c.Host(0), b.c.Host(1)
	b.paths[benchUnderlay] = &benchPath{name: benchUnderlay, clientNS: h1.NSPath(), server: h2.NSPath(), serverIP: h2.IP.String()}
}

// setupHandVXLAN builds, on h1 and h2, what weavego builds for one network: in a namespace of its own, a VXLAN
// device (no learning, ARP proxy, UDP checksums; created in the host's namespace so its socket is on the
// underlay, then moved in) and a bridge at benchMTU, a veth into a namespace playing a container, and permanent
// FDB and neighbour entries for the other side.
func (b *bench) setupHandVXLAN(t *testing.T) {
	hosts := []*e2e.Host{b.c.Host(0), b.c.Host(1)}
	ns := make([]string, 2)
	macs := make([]string, 2)
	mtu := fmt.Sprint(benchMTU)
	for i, h := range hosts {
		ns[i] = b.nsName(fmt.Sprintf("hv%d", i+1))
		hn := b.nsName(fmt.Sprintf("hvn%d", i+1)) // the network's namespace
		b.handNetNS[i] = filepath.Join(e2e.NetnsDir, hn)
		for _, name := range []string{ns[i], hn} {
			b.t.Cleanup(func() { _, _ = e2e.Run(30*time.Second, "ip", "netns", "delete", name) })
		}
		for _, s := range [][]string{
			{"ip", "netns", "add", ns[i]},
			{"ip", "netns", "add", hn},
			{"ip", "-n", h.NetNS, "link", "add", "hvx0", "mtu", mtu, "type", "vxlan", "id", benchHandVNI, "local", h.IP.String(),
				"dstport", benchHandPort, "nolearning", "proxy", "udpcsum"},
			{"ip", "-n", h.NetNS, "link", "set", "hvx0", "netns", hn},
			{"ip", "-n", hn, "link", "set", "lo", "up"},
			{"ip", "-n", hn, "link", "add", "hvbr0", "mtu", mtu, "type", "bridge"},
			{"ip", "-n", hn, "link", "set", "hvx0", "master", "hvbr0", "up"},
			{"ip", "-n", hn, "link", "set", "hvbr0", "up"},
			{"ip", "-n", ns[i], "link", "set", "lo", "up"},
		} {
			benchMust(t, s...)
		}
		macs[i] = b.handAttach(t, i, "hvv0", ns[i], "eth0", fmt.Sprintf("10.97.0.%d", i+1))
	}
	for i := range hosts {
		o := 1 - i
		benchMust(t, "bridge", "-n", filepath.Base(b.handNetNS[i]), "fdb", "append", "00:00:00:00:00:00", "dev", "hvx0", "dst", hosts[o].IP.String(), "self", "permanent")
		b.handRemote(t, i, macs[o], fmt.Sprintf("10.97.0.%d", o+1))
	}
	b.paths[benchHand] = &benchPath{name: benchHand, clientNS: filepath.Join(e2e.NetnsDir, ns[0]), server: filepath.Join(e2e.NetnsDir, ns[1]), serverIP: "10.97.0.2"}
}

// handAttach adds a veth from the hand VXLAN's bridge on host i (its end hostDev) into namespace ns (its end
// dev, given ip/24), both at benchMTU, and returns dev's MAC address.
func (b *bench) handAttach(t *testing.T, i int, hostDev, ns, dev, ip string) string {
	hn, mtu := filepath.Base(b.handNetNS[i]), fmt.Sprint(benchMTU)
	for _, s := range [][]string{
		{"ip", "-n", hn, "link", "add", hostDev, "mtu", mtu, "type", "veth", "peer", "name", dev, "netns", ns},
		{"ip", "-n", hn, "link", "set", hostDev, "master", "hvbr0", "up"},
		{"ip", "-n", ns, "link", "set", dev, "mtu", mtu, "up"},
		{"ip", "-n", ns, "addr", "add", ip + "/24", "dev", dev},
	} {
		benchMust(t, s...)
	}
	return benchField(benchMust(t, "ip", "-n", ns, "-o", "link", "show", dev), "link/ether")
}

// handRemote adds, on host i's hand VXLAN, the permanent FDB and neighbour entries of an end on the other host.
func (b *bench) handRemote(t *testing.T, i int, mac, ip string) {
	hn, other := filepath.Base(b.handNetNS[i]), b.c.Host(1-i).IP.String()
	benchMust(t, "bridge", "-n", hn, "fdb", "append", mac, "dev", "hvx0", "dst", other, "self", "permanent")
	benchMust(t, "ip", "-n", hn, "neigh", "add", ip, "lladdr", mac, "dev", "hvx0", "nud", "permanent")
}

// setupOverlay makes h1 a swarm manager and h2, h3 workers, creates an attachable overlay network and a
// sleeping container on it on h1 and h2. VXLAN of the swarm goes to benchOverlayPort so that weavego's
// VXLAN can keep 4789 on the same hosts.
func (b *bench) setupOverlay(t *testing.T) {
	h1 := b.c.Host(0)
	h1.MustDocker(t, "swarm", "init", "--advertise-addr", h1.IP.String(), "--data-path-port", benchOverlayPort)
	b.t.Cleanup(func() {
		for _, h := range b.c.Hosts() {
			_, _ = h.Docker("swarm", "leave", "--force")
		}
	})
	token := h1.MustDocker(t, "swarm", "join-token", "-q", "worker")
	for _, h := range b.c.Hosts()[1:] {
		h.MustDocker(t, "swarm", "join", "--advertise-addr", h.IP.String(), "--token", token, h1.IP.String()+":2377")
	}
	h1.MustDocker(t, "network", "create", "-d", "overlay", "--attachable", "--subnet", benchOvlSubnet, benchOverlayNet)
	b.rep.note("Docker overlay: swarm initialised on h1 with `--data-path-port %s` (weavego keeps 4789 on the same hosts), h2 and h3 join as workers; network `docker network create -d overlay --attachable`.", benchOverlayPort)
	for i, h := range b.c.Hosts()[:2] {
		ns, ip := b.container(t, h, benchOverlayNet, fmt.Sprintf("ovl%d", i+1))
		b.ovlNS[i] = ns
		if i == 1 {
			b.paths[benchOverlay] = &benchPath{name: benchOverlay, clientNS: b.ovlNS[0], server: ns, serverIP: ip}
		}
	}
}

// benchPeers is the PEERS setting: every host's underlay address.
func (b *bench) benchPeers() string {
	var peers []string
	for _, h := range b.c.Hosts() {
		peers = append(peers, h.IP.String())
	}
	return strings.Join(peers, ",")
}

// installWeavego installs the plugin on h with the production log level.
func (b *bench) installWeavego(h *e2e.Host) error {
	if b.key == "" {
		b.key = e2e.NewClusterKey(b.t)
	}
	return h.InstallPlugin(map[string]string{"PEERS": b.benchPeers(), "KEY": b.key, "LOG_LEVEL": "info",
		"DNS_UPSTREAM":    fmt.Sprintf("%s:%d", e2e.UnderlayGateway, benchDNSUpstreamPort),
		"DNS_CLIENT_RATE": strconv.Itoa(benchDNSClientRate), "DNS_ANSWER_RATE": strconv.Itoa(benchDNSAnswerRate),
		"METRICS_ADDR": benchMetricsAddr})
}

// setupWeavego installs the plugin on h1 and h2 (h3 comes later, to measure how a new host learns the
// cluster), creates the network on h1, waits for h2 to have it, and starts a container on each.
func (b *bench) setupWeavego(t *testing.T) {
	e2e.RequirePlugin(t)
	for _, h := range b.c.Hosts()[:2] {
		if err := b.installWeavego(h); err != nil {
			t.Fatalf("bench: install weavego on %s: %v", h.Name, err)
		}
	}
	h1, h2 := b.c.Host(0), b.c.Host(1)
	b.createWeaveNet(t, benchWeaveNet, benchWeaveSubnet)
	b.waitNetwork(t, h2, benchWeaveNet, time.Minute)
	p := &benchPath{name: benchWeavego}
	p.clientNS, _ = b.container(t, h1, benchWeaveNet, "wg1")
	p.server, p.serverIP = b.container(t, h2, benchWeaveNet, "wg2")
	b.weaveNS[0], b.weaveNS[1] = p.clientNS, p.server
	if err := benchPingable(p, 30*time.Second); err != nil {
		t.Fatalf("bench: weavego containers on h1 and h2 cannot ping each other: %v", err)
	}
	b.paths[benchWeavego] = p
	b.createWeaveNet(t, benchDirectNet, benchDirectSubnet, "-o", "direct")
	b.waitNetwork(t, h2, benchDirectNet, time.Minute)
	d := &benchPath{name: benchWeavegoDirect}
	d.clientNS, _ = b.container(t, h1, benchDirectNet, "wgd1")
	d.server, d.serverIP = b.container(t, h2, benchDirectNet, "wgd2")
	if err := benchPingable(d, 30*time.Second); err != nil {
		t.Fatalf("bench: weavego direct containers on h1 and h2 cannot ping each other: %v", err)
	}
	b.paths[benchWeavegoDirect] = d
}

// benchPingable waits until p's client namespace can ping its server address.
func benchPingable(p *benchPath, within time.Duration) error {
	return e2e.Poll(within, func() error {
		_, err := e2e.Run(5*time.Second, "nsenter", "--net="+p.clientNS, "--", "busybox", "ping", "-c", "1", "-W", "1", p.serverIP)
		return err
	})
}

// createWeaveNet creates a weavego network on h1, retrying for a minute when the plugin asks to (a pool
// must be confirmed by the other hosts, which may still be joining); retries are reported.
func (b *bench) createWeaveNet(t testing.TB, name, subnet string, opts ...string) {
	t.Helper()
	h1 := b.c.Host(0)
	tries := 0
	var first error
	err := e2e.Poll(time.Minute, func() error {
		tries++
		args := append([]string{"network", "create", "-d", e2e.Driver, "--ipam-driver", e2e.Driver, "--subnet", subnet},
			opts...)
		_, err := h1.Docker(append(args, name)...)
		if err != nil && first == nil {
			first = err
		}
		return err
	})
	if err != nil {
		t.Fatalf("bench: create weavego network %s: %v", name, err)
	}
	b.t.Cleanup(func() { _, _ = h1.Docker("network", "rm", name) })
	if tries > 1 {
		b.rep.finding("`docker network create` of %s needed %d tries; the first failed with: %v", name, tries, first)
	}
}

// waitNetwork waits until network exists on h (weavego creates it on the other hosts by itself).
func (b *bench) waitNetwork(t testing.TB, h *e2e.Host, network string, within time.Duration) {
	t.Helper()
	if err := e2e.Poll(within, func() error {
		_, err := h.Docker("network", "inspect", network)
		return err
	}); err != nil {
		t.Fatalf("bench: network %s did not appear on %s within %s: %v", network, h.Name, within, err)
	}
}
