//go:build linux

package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// wgStatus is the part of the plugin's GET /status answer the tests read.
type wgStatus struct {
	Version string
	Cluster struct {
		Self, VTEP string
		Peers      []struct {
			Name, Addr, State string
			Local             bool
			Endpoints         int
		}
		Networks []struct {
			Name, Subnet, Gateway, Origin string
			VNI                           uint32
			Hosts                         []string
			Endpoints                     int
		}
	}
	IPAM struct {
		Host, Range string
		Pools       []struct {
			ID    string
			Hosts []struct {
				Host              string
				Owned, Used, Free uint64
				Reachable         bool
			}
		}
		Problems []string
	}
	DNS struct {
		Domain  string
		Listen  []string
		Records int
	}
	Firewall struct {
		FromContainer, VXLANNonMember int
	}
}

// peerState returns the state h's plugin reports for the peer whose address is ip, or "" when it lists none.
func (s wgStatus) peerState(ip string) string {
	for _, p := range s.Cluster.Peers {
		host := p.Addr
		if hh, _, err := net.SplitHostPort(p.Addr); err == nil {
			host = hh
		}
		if host == ip {
			return p.State
		}
	}
	return ""
}

// weaveCluster is a Cluster whose hosts all run the plugin, joined into one mesh.
type weaveCluster struct {
	*Cluster
	// Peer is each host's peer name in the mesh (the name errors and `weavego status` use).
	Peer map[*Host]string
}

// newWeaveCluster brings up n hosts, installs the plugin on each with PEERS naming every other host (plus env),
// and waits until every host sees all n peers alive.
func newWeaveCluster(t *testing.T, n int, env map[string]string) *weaveCluster {
	t.Helper()
	return newWeaveClusterOn(t, NewCluster(t, n), env)
}

// newWeaveClusterOn is newWeaveCluster on hosts already up (for tests that start underlay servers first).
func newWeaveClusterOn(t *testing.T, c *Cluster, env map[string]string) *weaveCluster {
	t.Helper()
	return meshHosts(t, c, c.Hosts(), env)
}

// meshHosts installs the plugin on hosts, the cluster key and PEERS naming every other one of them (plus env),
// and waits until each of them sees all of them alive. Other hosts of c are left alone.
func meshHosts(t *testing.T, c *Cluster, hosts []*Host, env map[string]string) *weaveCluster {
	t.Helper()
	start := time.Now()
	key := newClusterKey(t)
	errs := make(chan error, len(hosts))
	for _, h := range hosts {
		go func() {
			var peers []string
			for _, o := range hosts {
				if o != h {
					peers = append(peers, o.IP.String())
				}
			}
			e := map[string]string{"PEERS": strings.Join(peers, ","), "KEY": key}
			for k, v := range env {
				e[k] = v
			}
			if err := h.InstallPlugin(e); err != nil {
				errs <- fmt.Errorf("%s: %w", h.Name, err)
				return
			}
			errs <- nil
		}()
	}
	for range hosts {
		if err := <-errs; err != nil {
			t.Fatalf("install plugins: %v", err)
		}
	}
	wc := &weaveCluster{Cluster: c, Peer: map[*Host]string{}}
	Eventually(t, 2*time.Minute, func() error {
		for _, h := range hosts {
			st, err := h.Status()
			if err != nil {
				return err
			}
			wc.Peer[h] = st.Cluster.Self
			for _, o := range hosts {
				if s := st.peerState(o.IP.String()); s != "alive" {
					return fmt.Errorf("%s sees %s as %q", h.Name, o.Name, s)
				}
			}
		}
		return nil
	})
	t.Logf("plugins enabled and meshed (%d peers) in %s", len(hosts), time.Since(start).Round(100*time.Millisecond))
	return wc
}

// Status reads the plugin's status through `weavego status --json` on h.
func (h *Host) Status() (wgStatus, error) {
	var st wgStatus
	out, err := h.WeavegoCLI("status", "--json")
	if err != nil {
		return st, fmt.Errorf("%s: status API: %w", h.Name, err)
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return st, fmt.Errorf("%s: status API: %v in %q", h.Name, err, out)
	}
	return st, nil
}

// weavegoBin is the weavego command, taken from the plugin bundle.
func weavegoBin() string { return filepath.Join(PluginDir(), "rootfs", "weavego") }

// ControlSocket is the host-side path of h's plugin control socket: control.sock in the plugin's state mount.
func (h *Host) ControlSocket() string { return filepath.Join(h.Dir, "plugin-state", "control.sock") }

// WeavegoCLI runs the weavego command in h's namespace, pointed at h's control socket.
func (h *Host) WeavegoCLI(args ...string) (string, error) {
	return h.Exec(append([]string{weavegoBin(), "--socket", h.ControlSocket()}, args...)...)
}

// newClusterKey returns a fresh cluster key (base64 of 32 random bytes), as `weavego key generate` prints.
func newClusterKey(t testing.TB) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// netView is what `docker network inspect` says of a network on one host.
type netView struct {
	ID, Driver, Subnet, Gateway, VNI string
}

// NetworkView inspects network name on h.
func (h *Host) NetworkView(name string) (netView, error) {
	out, err := h.Docker("network", "inspect", "--format",
		`{{.Id}}|{{.Driver}}|{{range .IPAM.Config}}{{.Subnet}}|{{.Gateway}}{{end}}|{{index .Options "vni"}}`, name)
	if err != nil {
		return netView{}, err
	}
	f := strings.Split(strings.TrimSpace(out), "|")
	if len(f) != 5 {
		return netView{}, fmt.Errorf("%s: network %s: unexpected inspect output %q", h.Name, name, out)
	}
	return netView{ID: f[0], Driver: f[1], Subnet: f[2], Gateway: f[3], VNI: f[4]}, nil
}

// VXLANDevice is the name of the VXLAN device of network name on h ("wgx-" + the host's network ID[:11]).
func (h *Host) VXLANDevice(name string) (string, error) {
	v, err := h.NetworkView(name)
	if err != nil {
		return "", err
	}
	return "wgx-" + v.ID[:11], nil
}

// FDB returns the FDB entries of dev on h as MAC -> destinations (VTEP addresses).
func (h *Host) FDB(dev string) (map[string][]string, error) {
	out, err := h.ExecDev(dev, "bridge", "fdb", "show", "dev", dev)
	if err != nil {
		return nil, err
	}
	m := map[string][]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		for i := 1; i+1 < len(f); i++ {
			if f[i] == "dst" {
				m[strings.ToLower(f[0])] = append(m[strings.ToLower(f[0])], f[i+1])
			}
		}
	}
	return m, nil
}

// Neigh returns the neighbour entries of dev on h (or of the container's interfaces when ctr is not empty) as
// IP -> MAC.
func (h *Host) Neigh(ctr, dev string) (map[string]string, error) {
	var out string
	var err error
	if ctr == "" {
		out, err = h.ExecDev(dev, "ip", "neigh", "show", "dev", dev)
	} else {
		out, err = execIn(h, ctr, "ip", "neigh", "show")
	}
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		for i := 1; i+1 < len(f); i++ {
			if f[i] == "lladdr" {
				m[f[0]] = strings.ToLower(f[i+1])
			}
		}
	}
	return m, nil
}

// ContainerMAC returns the MAC address of the interface holding ip inside container ctr, read in the container.
func (h *Host) ContainerMAC(ctr, ip string) (string, error) {
	out, err := execIn(h, ctr, "ip", "-o", "-4", "addr", "show")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && strings.HasPrefix(f[3], ip+"/") {
			mac, err := execIn(h, ctr, "cat", "/sys/class/net/"+f[1]+"/address")
			return strings.ToLower(strings.TrimSpace(mac)), err
		}
	}
	return "", fmt.Errorf("%s: no interface with %s in container %s: %q", h.Name, ip, ctr, out)
}

// fetch returns an error unless wget of url from container ctr on h returns a body containing want.
func fetch(h *Host, ctr, url, want string) error {
	out, err := execIn(h, ctr, Wget(url)...)
	if err != nil || !strings.Contains(out, want) {
		return fmt.Errorf("%s: %s from %s: got %q, %v; want %q", h.Name, url, ctr, strings.TrimSpace(out), err, want)
	}
	return nil
}

// hello is what the test HTTP server answers.
func hello(name, ip string) string {
	return fmt.Sprintf("Hi! I'm %s service and my container's IP is %s", name, ip)
}

// measure polls f every 50ms until it returns nil and returns the time since start; it fails t after timeout.
// It is for timings, where Eventually's growing interval would blur the figure.
func measure(t *testing.T, start time.Time, timeout time.Duration, f func() error) time.Duration {
	t.Helper()
	for {
		err := f()
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("still failing after %s: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// PluginPIDs returns the pids of the `weavego daemon` processes in h's network namespace.
func (h *Host) PluginPIDs() ([]int, error) {
	fi, err := os.Stat(h.nsPath())
	if err != nil {
		return nil, err
	}
	want := fmt.Sprintf("net:[%d]", fi.Sys().(*syscall.Stat_t).Ino)
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !strings.HasPrefix(string(cmd), "/weavego\x00daemon") {
			continue
		}
		if ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid)); err == nil && ns == want {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// KillPlugin sends SIGKILL to h's plugin process and returns its pid.
func (h *Host) KillPlugin() (int, error) {
	pids, err := h.PluginPIDs()
	if err != nil {
		return 0, err
	}
	if len(pids) != 1 {
		return 0, fmt.Errorf("%s: want one weavego daemon in the namespace, found pids %v", h.Name, pids)
	}
	return pids[0], syscall.Kill(pids[0], syscall.SIGKILL)
}

// waitPluginBack waits until a plugin process other than old runs on h and answers its status API.
func waitPluginBack(t *testing.T, h *Host, old int, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	Eventually(t, timeout, func() error {
		pids, err := h.PluginPIDs()
		if err != nil {
			return err
		}
		if len(pids) != 1 || pids[0] == old {
			return fmt.Errorf("%s: plugin pids %v (killed %d): not restarted", h.Name, pids, old)
		}
		_, err = h.Status()
		return err
	})
	return time.Since(start)
}

// buildUDPEcho compiles e2e/udpecho statically and returns the binary's path.
func buildUDPEcho(t *testing.T) string { return buildProbe(t, "udpecho") }

// buildProbe compiles the probe program e2e/<name> statically and returns the binary's path.
func buildProbe(t *testing.T, name string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go"
	}
	cmd := exec.Command(goBin, "build", "-trimpath", "-o", out, "./"+name)
	cmd.Env = append(cleanEnv(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v: %s", name, err, b)
	}
	return out
}

// runFor is RunContainer for a container that outlives the subtest t: a failure fails t, and the container is
// removed at the end of owner.
func runFor(t, owner testing.TB, h *Host, args ...string) string {
	t.Helper()
	id := h.MustDocker(t, append([]string{"run", "-d"}, args...)...)
	owner.Cleanup(func() {
		if _, err := h.Docker("rm", "-f", id); err != nil && !strings.Contains(err.Error(), "No such container") {
			owner.Errorf("e2e: cleanup: %v", err)
		}
	})
	return id
}

// createNetworkFor is CreateNetwork for a network that outlives the subtest t; it is removed at the end of owner.
func createNetworkFor(t, owner testing.TB, h *Host, name string, args ...string) {
	t.Helper()
	h.MustDocker(t, append(append([]string{"network", "create"}, args...), name)...)
	owner.Cleanup(func() {
		if _, err := h.Docker("network", "rm", name); err != nil && !strings.Contains(err.Error(), "No such network") &&
			!strings.Contains(err.Error(), "not found") {
			owner.Errorf("e2e: cleanup: %v", err)
		}
	})
}
