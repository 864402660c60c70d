//go:build linux

package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Underlay addressing: every cluster has its own underlay namespace, so clusters never see each other and the
// same test-only subnet is reused by all of them.
var (
	// UnderlayPrefix is the subnet of the underlay bridge.
	UnderlayPrefix = netip.MustParsePrefix("10.213.0.0/24")
	// UnderlayGateway is the bridge's own address in the underlay namespace; test servers listen there.
	UnderlayGateway = netip.MustParseAddr("10.213.0.1")
	// UnderlayPrefix6 and UnderlayGateway6 replace them on an IPv6-only underlay (ClusterOptions.IPv6Underlay):
	// unique local addresses, and no IPv4 on the bridge or the hosts' links.
	UnderlayPrefix6  = netip.MustParsePrefix("fd00:213::/64")
	UnderlayGateway6 = netip.MustParseAddr("fd00:213::1")
)

// Cluster is a set of Docker hosts on one underlay bridge. Its hosts are created by NewCluster and removed by
// the test's cleanup; neither the slice nor Peer is changed in between, so a Cluster may be used from several
// goroutines.
type Cluster struct {
	// ID is the run id: every namespace, directory and cgroup of the cluster starts with wge2e-<ID>.
	ID string
	// UnderlayNS is the name of the namespace holding the underlay bridge br0.
	UnderlayNS string
	// Peer is the peer name of each host running the plugin (the name errors and `weavego status` use).
	Peer map[*Host]string

	t     testing.TB
	dir   string
	hosts []*Host
	ipv6  bool // the underlay is IPv6-only
}

// ClusterOptions says what cluster a test needs.
type ClusterOptions struct {
	// Hosts is how many Docker hosts to start (1..200), named h1, h2, ...
	Hosts int
	// Mesh is how many of them, from h1 on, get the weavego plugin with a fresh cluster key and PEERS naming
	// each other; NewCluster returns once each of them sees all of them alive. 0: no plugin anywhere.
	Mesh int
	// Env holds plugin settings besides PEERS and KEY.
	Env map[string]string
	// Underlay, when set, runs once the hosts are up and before the plugin is installed: it starts the servers
	// in the underlay namespace (a DNS upstream) that Env names.
	Underlay func(*Cluster)
	// Daemon holds daemon.json settings every host's dockerd starts with, such as
	// {"firewall-backend": "nftables"} on engine 29 (see Host.daemonConfig).
	Daemon map[string]any
	// IPv6Underlay makes the underlay IPv6-only: the hosts' links and the bridge hold only addresses of
	// UnderlayPrefix6, so PEERS and ADVERTISE_ADDR are IPv6 addresses. The test registry (IPv4) is not there.
	IPv6Underlay bool
}

// NewCluster brings up the hosts o asks for, with the test images loaded and the plugin on the first o.Mesh of
// them, and registers their teardown with t.Cleanup. It skips the test when the machine cannot run it (see
// RequireE2E) and fails it when a host does not come up.
func NewCluster(t testing.TB, o ClusterOptions) *Cluster {
	t.Helper()
	c := newHosts(t, o.Hosts, o.Daemon, o.IPv6Underlay)
	if o.Mesh < 0 || o.Mesh > o.Hosts {
		t.Fatalf("e2e: NewCluster: Mesh %d of %d hosts", o.Mesh, o.Hosts)
	}
	if o.Underlay != nil {
		o.Underlay(c)
	}
	if o.Mesh > 0 {
		meshHosts(t, c, c.hosts[:o.Mesh], o.Env)
	}
	return c
}

// newHosts brings up n Docker hosts with the test images loaded, their daemon.json holding daemon's settings.
// On ipv6, the underlay is IPv6-only.
func newHosts(t testing.TB, n int, daemon map[string]any, ipv6 bool) *Cluster {
	t.Helper()
	RequireE2E(t)
	requireEngine(t)
	if n < 1 || n > 200 {
		t.Fatalf("e2e: NewCluster: %d hosts: want 1..200", n)
	}
	c, err := newRun(t)
	if err != nil {
		t.Fatalf("e2e: %v", err)
	}
	t.Cleanup(c.teardown)
	c.ipv6 = ipv6
	start := time.Now()
	if err := c.setupUnderlay(); err != nil {
		t.Fatalf("e2e: %v", err)
	}
	for i := 1; i <= n; i++ {
		h := newHost(c, i)
		h.daemon = daemon
		c.hosts = append(c.hosts, h)
	}
	if err := c.eachHost((*Host).setup); err != nil {
		t.Fatalf("e2e: %v", err)
	}
	t.Logf("e2e: %d host(s) of run %s up in %s", n, c.ID, time.Since(start).Round(100*time.Millisecond))
	if err := c.eachHost((*Host).loadImages); err != nil {
		t.Fatalf("e2e: %v", err)
	}
	t.Logf("e2e: images loaded after %s", time.Since(start).Round(100*time.Millisecond))
	return c
}

// newRun picks an unused run id and creates its directory, owned by this process.
func newRun(t testing.TB) (*Cluster, error) {
	for attempt := 0; attempt < 20; attempt++ {
		b := make([]byte, 2)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		id := hex.EncodeToString(b)
		if err := os.Mkdir(runDir(id), 0o755); err != nil {
			if os.IsExist(err) {
				continue
			}
			return nil, fmt.Errorf("create run directory: %w", err)
		}
		if err := writeOwner(id); err != nil {
			os.RemoveAll(runDir(id))
			return nil, fmt.Errorf("record owner of run %s: %w", id, err)
		}
		return &Cluster{ID: id, UnderlayNS: Prefix + id + "-ul", Peer: map[*Host]string{}, t: t, dir: runDir(id)}, nil
	}
	return nil, errors.New("no free run id in 20 attempts")
}

// Dir is the run's directory: logs and files of servers the tests start go there, and the sweep removes it.
func (c *Cluster) Dir() string { return c.dir }

// Hosts returns the hosts, in order h1, h2, ...
func (c *Cluster) Hosts() []*Host { return c.hosts }

// Host returns host i, counting from 0: Host(0) is h1.
func (c *Cluster) Host(i int) *Host { return c.hosts[i] }

// eachHost runs f on all hosts in parallel and joins the errors.
func (c *Cluster) eachHost(f func(*Host) error) error {
	errs := make([]error, len(c.hosts))
	var wg sync.WaitGroup
	for i, h := range c.hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(h)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// underlayAddr is the arguments of "ip addr add" for v4 on an IPv4 underlay, v6 (without duplicate address
// detection, which would hold the address back for a while) on an IPv6-only one.
func (c *Cluster) underlayAddr(v4, v6 netip.Addr) []string {
	if c.ipv6 {
		return []string{fmt.Sprintf("%s/%d", v6, UnderlayPrefix6.Bits()), "nodad"}
	}
	return []string{fmt.Sprintf("%s/%d", v4, UnderlayPrefix.Bits())}
}

func (c *Cluster) setupUnderlay() error {
	steps := [][]string{
		{"ip", "netns", "add", c.UnderlayNS},
		{"ip", "-n", c.UnderlayNS, "link", "set", "lo", "up"},
		{"ip", "-n", c.UnderlayNS, "link", "add", "name", "br0", "type", "bridge"},
		append(append([]string{"ip", "-n", c.UnderlayNS, "addr", "add"}, c.underlayAddr(UnderlayGateway, UnderlayGateway6)...), "dev", "br0"),
		{"ip", "-n", c.UnderlayNS, "link", "set", "br0", "up"},
	}
	for _, s := range steps {
		if _, err := Run(30*time.Second, s...); err != nil {
			return fmt.Errorf("underlay: %w", err)
		}
	}
	return nil
}

// UnderlayExec runs a command in the underlay namespace (where UnderlayGateway lives) and returns its stdout.
func (c *Cluster) UnderlayExec(args ...string) (string, error) {
	return Run(2*time.Minute, append([]string{"nsenter", "--net=" + filepath.Join(NetnsDir, c.UnderlayNS), "--"}, args...)...)
}

// StartUnderlay starts a long-running command (a test server) in the underlay namespace; it is stopped at the
// end of t. Its output goes to a log that is shown when t fails.
func (c *Cluster) StartUnderlay(t testing.TB, name string, args ...string) {
	t.Helper()
	logPath := filepath.Join(c.dir, name+".log")
	d, err := StartServer(name, logPath, append([]string{"nsenter", "--net=" + filepath.Join(NetnsDir, c.UnderlayNS), "--"}, args...)...)
	if err != nil {
		t.Fatalf("e2e: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Stop(10 * time.Second); err != nil {
			t.Logf("e2e: %v", err)
		}
		if t.Failed() {
			t.Logf("e2e: log of %s:\n%s", name, tailFile(logPath, 50))
		}
	})
}

// StartUnderlayWeb serves body over HTTP from UnderlayGateway:port in the underlay namespace (busybox httpd),
// waits until it answers, and returns its URL. It stops at the end of t.
func (c *Cluster) StartUnderlayWeb(t testing.TB, port int, body string) string {
	t.Helper()
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "index.html"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	c.StartUnderlay(t, fmt.Sprintf("httpd-%d", port), "busybox", "httpd", "-f", "-p", fmt.Sprintf("%s:%d", UnderlayGateway, port), "-h", root)
	url := fmt.Sprintf("http://%s:%d/", UnderlayGateway, port)
	Eventually(t, 30*time.Second, func() error {
		out, err := c.UnderlayExec(Wget(url)...)
		if err != nil || !strings.Contains(out, body) {
			return fmt.Errorf("underlay web server at %s: got %q, %v", url, out, err)
		}
		return nil
	})
	return url
}

// teardown stops every host gracefully, then sweeps the run so that nothing is left even when a stop failed.
func (c *Cluster) teardown() {
	start := time.Now()
	failed := c.t.Failed()
	err := c.eachHost(func(h *Host) error { return h.teardown(failed) })
	if _, uerr := Run(30*time.Second, "ip", "netns", "delete", c.UnderlayNS); uerr != nil {
		err = errors.Join(err, uerr)
	}
	if err != nil {
		c.t.Errorf("e2e: teardown: %v", err)
	}
	// The sweep finds what a clean stop leaves nothing of; the run directory itself is expected.
	found, err := sweepRun(c.ID, 10*time.Second)
	if len(found) > 0 && found[len(found)-1] == "directory "+c.dir {
		found = found[:len(found)-1]
	}
	if err != nil {
		c.t.Errorf("e2e: teardown of run %s left something behind: %v", c.ID, err)
	}
	if len(found) > 0 {
		c.t.Logf("e2e: final sweep removed: %s", strings.Join(found, ", "))
	}
	c.t.Logf("e2e: run %s torn down in %s", c.ID, time.Since(start).Round(100*time.Millisecond))
}

// RequireE2E skips t, with one line saying why, when end-to-end tests cannot or should not run here.
func RequireE2E(t testing.TB) {
	t.Helper()
	if os.Getenv("WEAVEGO_E2E") == "0" {
		t.Skip("e2e: skipped: WEAVEGO_E2E=0")
	}
	if os.Geteuid() != 0 {
		t.Skip("e2e: skipped: needs root to create network namespaces and run dockerd")
	}
	for _, bin := range []string{"dockerd", "containerd", "docker", "nsenter", "ip", "runc"} {
		if _, err := exec.LookPath(bin); err != nil {
			if _, err2 := os.Stat("/usr/sbin/" + bin); err2 != nil {
				t.Skipf("e2e: skipped: %s not found in PATH", bin)
			}
		}
	}
	if _, err := busyboxPath(); err != nil {
		t.Skipf("e2e: skipped: %v", err)
	}
}
