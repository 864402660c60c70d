//go:build linux

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// maxRestartGap bounds the longest gap of a 100 ms ping across hosts while a plugin restarts with
// containers running (upgrade, make install): the kernel datapath stays (the stopping plugin moves each network
// into the host namespace and the new one moves it back, a few netlink calls each) and the other hosts keep
// forwarding, so a gap longer than a ping or two is a regression; the bound leaves room for a loaded machine.
const maxRestartGap = 3 * time.Second

// upgradeFromEnv names the source tree of an earlier weavego to build e2e-1 from, so that Upgrade moves a host
// from that version to this one (for example from the design that kept networks in the host namespace).
const upgradeFromEnv = "WEAVEGO_UPGRADE_FROM"

// dnsService is dnsd's service address on every weavego network (DNS_ADDR's default).
const dnsService = "169.254.53.53"

// registryCluster is two hosts running the plugin installed from a registry that h1 pushed it to, with a
// container on each on net1.
type registryCluster struct {
	c      *Cluster
	h1, h2 *Host
	ref    map[string]string // version -> image reference in the registry
	ip     map[string]string // container -> address on net1
	cli    map[*Host]string  // host -> directory of the weavego command the README's line installed there
}

// TestInstallFromRegistry publishes the plugin with make push and installs it on each host with docker plugin
// install, settings on the command line, as the README tells users to; then upgrades one host in place
// (docker plugin disable, upgrade, enable) while its containers run, and checks that their addresses, names
// and connectivity survive and that the two versions keep working together.
func TestInstallFromRegistry(t *testing.T) {
	RequirePlugin(t)
	c := NewCluster(t, ClusterOptions{Hosts: 2})
	reg := c.StartRegistry(t)
	s := &registryCluster{c: c, h1: c.Host(0), h2: c.Host(1), ref: map[string]string{}, ip: map[string]string{},
		cli: map[*Host]string{}}
	start := time.Now()
	for _, v := range []string{"e2e-1", "e2e-2"} {
		s.ref[v] = reg + "/weavego:" + v
		root := RepoRoot()
		if old := os.Getenv(upgradeFromEnv); old != "" && v == "e2e-1" {
			root = old
			t.Logf("e2e-1 is built from %s (%s)", old, upgradeFromEnv)
		}
		if err := s.h1.PushPluginFrom(root, filepath.Join(t.TempDir(), v), s.ref[v], v); err != nil {
			t.Fatalf("make push: %v", err)
		}
	}
	t.Logf("make push of two versions to %s took %s", reg, time.Since(start).Round(100*time.Millisecond))
	if out := s.h1.MustDocker(t, "plugin", "ls", "--format", "{{.Name}}"); out != "" {
		t.Errorf("make push left plugins installed on the pushing host: %q", out)
	}
	s.install(t, "e2e-1")
	s.workload(t)
	runSteps(t, []step{
		{"Upgrade", s.upgrade},
		{"MakeInstallOverOlder", s.makeInstall},
	})
}

// install runs docker plugin install of version on both hosts and waits until they mesh.
func (s *registryCluster) install(t *testing.T, version string) {
	key := NewClusterKey(t)
	start := time.Now()
	errs := make(chan error, 2)
	for _, pair := range [][2]*Host{{s.h1, s.h2}, {s.h2, s.h1}} {
		go func() {
			errs <- pair[0].InstallPluginFromRegistry(s.ref[version],
				map[string]string{"PEERS": pair[1].IP.String(), "KEY": key})
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("docker plugin install: %v", err)
		}
	}
	Eventually(t, 2*time.Minute, func() error {
		for _, pair := range [][2]*Host{{s.h1, s.h2}, {s.h2, s.h1}} {
			st, err := pair[0].Status()
			if err != nil {
				return err
			}
			if st.peerState(pair[1].IP.String()) != "alive" {
				return fmt.Errorf("%s sees %s as %q", pair[0].Name, pair[1].Name, st.peerState(pair[1].IP.String()))
			}
		}
		return nil
	})
	t.Logf("installed %s from the registry on both hosts and meshed in %s", s.ref[version], time.Since(start).Round(100*time.Millisecond))
	for _, h := range []*Host{s.h1, s.h2} {
		s.wantVersion(t, h, version)
		s.wantCLI(t, h, version)
	}
}

// wantCLI runs on h the README's line that installs the weavego command from the installed plugin (neither
// host has the command otherwise), and checks that the command it installs is version and, over h's control
// socket, finds a plugin of version too.
func (s *registryCluster) wantCLI(t *testing.T, h *Host, version string) {
	t.Helper()
	line, err := ReadmeCLILine()
	if err != nil {
		t.Fatal(err)
	}
	if s.cli[h] == "" {
		s.cli[h] = t.TempDir()
	}
	start := time.Now()
	out, err := h.InstallCLI(line, s.cli[h])
	if err != nil {
		t.Fatalf("the README's line for the weavego command: %v", err)
	}
	if want := cliDest + "\nweavego " + version + "\n"; out != want {
		t.Errorf("%s: after the README's line, command -v weavego and weavego version print %q, want %q", h.Name, out, want)
	}
	st, err := h.StatusWith(InstalledCLI(s.cli[h]))
	if err != nil {
		t.Fatalf("weavego status with the command the README's line installed: %v", err)
	}
	if st.Version != version {
		t.Errorf("%s: weavego status with the command the README's line installed reports version %q, want %q",
			h.Name, st.Version, version)
	}
	problems, err := h.Exec(InstalledCLI(s.cli[h]), "--socket", h.ControlSocket(), "status", "problems")
	if err != nil || strings.Contains(problems, "this weavego command is version") {
		t.Errorf("%s: weavego status problems with the command of the plugin's version: %v\n%s", h.Name, err, problems)
	}
	took := time.Since(start)
	engine, _ := h.Docker("version", "--format", "{{.Server.Version}}")
	t.Logf("%s (Docker %s): the README's line installed the weavego command in %s (want version %s): %s", h.Name,
		strings.TrimSpace(engine), took.Round(10*time.Millisecond), version, line)
}

// wantStaleCLI checks that the command the README's line installed on h before its upgrade, of version old,
// lists itself in weavego status as a problem, with that line as the fix. An e2e-1 built from another tree
// (upgradeFromEnv) may predate the check.
func (s *registryCluster) wantStaleCLI(t *testing.T, h *Host, old, plugin string) {
	t.Helper()
	if os.Getenv(upgradeFromEnv) != "" {
		return
	}
	line, err := ReadmeCLILine()
	if err != nil {
		t.Fatal(err)
	}
	out, err := h.Exec(InstalledCLI(s.cli[h]), "--socket", h.ControlSocket(), "status", "problems")
	want := fmt.Sprintf("- this weavego command is version %s, the plugin %s\n  fix: install the plugin's own command: %s\n",
		old, plugin, line)
	if err != nil || !strings.Contains(out, want) {
		t.Errorf("%s: weavego status problems of the %s command with the %s plugin (%v) lacks\n%s\nin:\n%s",
			h.Name, old, plugin, err, want, out)
	}
}

// wantVersion checks that h runs version: weavego status says so, and the plugin's first log line of its
// latest start does.
func (s *registryCluster) wantVersion(t *testing.T, h *Host, version string) {
	t.Helper()
	st, err := h.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != version {
		t.Errorf("%s: weavego status reports version %q, want %q", h.Name, st.Version, version)
	}
	// The first line of each start is msg="weavego VERSION" version=VERSION (escaped once more in the
	// daemon's log); take the last start's.
	line := ""
	for _, l := range h.PluginLogs() {
		if i := strings.Index(l, "msg=\\\"weavego "); i >= 0 && strings.Contains(l[i:], "\\\" version=") &&
			!strings.Contains(l[i:], "weavego starting") {
			line = l
		}
	}
	if !strings.Contains(line, "weavego "+version+`\" version=`+version) {
		t.Errorf("%s: the plugin log's start line does not name version %s: %q", h.Name, version, line)
	}
}

// wantParked checks that h's stopping e2e-1 moved its networks into the host namespace (so that its containers
// stayed connected while Docker had the namespaces' pins unmounted), when e2e-1 is of this design: an earlier
// one kept them there anyway.
func (s *registryCluster) wantParked(t *testing.T, h *Host) {
	t.Helper()
	if os.Getenv(upgradeFromEnv) != "" {
		return
	}
	if !slices.ContainsFunc(h.PluginLogs(), func(l string) bool {
		return strings.Contains(l, "networks moved into the host namespace until the plugin runs again")
	}) {
		t.Errorf("%s: the stopping plugin does not log that it moved its networks into the host namespace", h.Name)
	}
}

// workload creates net1 from h1 and a container on each host, and checks they reach each other by address
// and by name.
func (s *registryCluster) workload(t *testing.T) {
	s.h1.CreateNetwork(t, "net1", netArgs...)
	s.h1.RunContainer(t, "--name", "c1", "--network", "net1", "--dns", dnsService, BusyboxImage, "sleep", "3600")
	Eventually(t, time.Minute, func() error {
		_, err := s.h2.Docker("network", "inspect", "net1")
		return err
	})
	s.h2.RunContainer(t, "--name", "c2", "--network", "net1", "--dns", dnsService, BusyboxImage, "sleep", "3600")
	for _, p := range []struct {
		h    *Host
		name string
	}{{s.h1, "c1"}, {s.h2, "c2"}} {
		ip, err := p.h.ContainerIP(p.name, "net1")
		if err != nil {
			t.Fatal(err)
		}
		s.ip[p.name] = ip
	}
	s.reach(t, time.Minute)
}

// reach checks that c1 and c2 ping each other by address and resolve each other's names.
func (s *registryCluster) reach(t *testing.T, timeout time.Duration) {
	t.Helper()
	for _, p := range []struct {
		h        *Host
		from, to string
	}{{s.h1, "c1", "c2"}, {s.h2, "c2", "c1"}} {
		Eventually(t, timeout, func() error {
			out, err := execIn(p.h, p.from, "ping", "-c", "1", "-W", "2", s.ip[p.to])
			if err != nil {
				return fmt.Errorf("ping %s (%s) from %s: %v %s", p.to, s.ip[p.to], p.from, err, out)
			}
			ips, err := nslookup(p.h, p.from, p.to)
			if err != nil || !slices.Equal(ips, []string{s.ip[p.to]}) {
				return fmt.Errorf("%s resolves %s to %v (%v), want %s", p.from, p.to, ips, err, s.ip[p.to])
			}
			return nil
		})
	}
}

// upgrade moves h2 to e2e-2 with docker plugin disable/upgrade/enable while c1 pings c2 every 100 ms.
func (s *registryCluster) upgrade(t *testing.T) {
	p, err := startPinger(s.h1, "c1", s.ip["c2"])
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	start := time.Now()
	before := s.h2.pluginRootfsVersion(t)
	if err := s.h2.UpgradePlugin(s.ref["e2e-2"]); err != nil {
		p.stop()
		t.Fatalf("upgrade: %v", err)
	}
	took := time.Since(start)
	after := s.h2.pluginRootfsVersion(t)
	t.Logf("h2's plugin before the upgrade: %s; after: %s", before, after)
	time.Sleep(3 * time.Second)
	res := p.stop()
	t.Logf("h2 upgraded from e2e-1 to e2e-2 in %s; c1 -> c2 ping every 100 ms during it: %s",
		took.Round(10*time.Millisecond), res)
	if res.replies == 0 || res.longestGap > maxRestartGap {
		t.Errorf("traffic stopped too long during the upgrade (bound %s): %s", maxRestartGap, res)
	}
	s.wantVersion(t, s.h2, "e2e-2")
	s.wantVersion(t, s.h1, "e2e-1")
	s.wantStaleCLI(t, s.h2, "e2e-1", "e2e-2")
	s.wantCLI(t, s.h2, "e2e-2")
	s.wantParked(t, s.h2)
	// This version keeps each network in a namespace of its own, whatever the earlier one did.
	if links, err := s.h2.Links(); err != nil || slices.ContainsFunc(links, func(l string) bool {
		return strings.HasPrefix(l, "wgb-") || strings.HasPrefix(l, "wgx-") || strings.HasPrefix(l, "wgv-")
	}) {
		t.Errorf("weavego links left in h2's host namespace after the upgrade: %v %v", links, err)
	}
	if nss, err := s.h2.NetworkNamespaces(); err != nil || len(nss) == 0 {
		t.Errorf("no network namespace on h2 after the upgrade: %v %v", nss, err)
	}
	if ip, err := s.h2.ContainerIP("c2", "net1"); err != nil || ip != s.ip["c2"] {
		t.Errorf("c2's address after the upgrade is %q (%v), want %s", ip, err, s.ip["c2"])
	}
	s.reach(t, time.Minute)
	// Mixed versions: a container started after the upgrade on each host is reachable from the other.
	s.h1.RunContainer(t, "--name", "c3", "--network", "net1", "--dns", dnsService, BusyboxImage, "sleep", "3600")
	s.h2.RunContainer(t, "--name", "c4", "--network", "net1", "--dns", dnsService, BusyboxImage, "sleep", "3600")
	for _, n := range [][2]string{{"c3", "c4"}} {
		ip3, err3 := s.h1.ContainerIP(n[0], "net1")
		ip4, err4 := s.h2.ContainerIP(n[1], "net1")
		if err3 != nil || err4 != nil {
			t.Fatalf("addresses: %v %v", err3, err4)
		}
		s.ip[n[0]], s.ip[n[1]] = ip3, ip4
	}
	for _, p := range []struct {
		h        *Host
		from, to string
	}{{s.h1, "c3", "c4"}, {s.h2, "c4", "c3"}} {
		Eventually(t, time.Minute, func() error {
			ips, err := nslookup(p.h, p.from, p.to)
			if err != nil || !slices.Equal(ips, []string{s.ip[p.to]}) {
				return fmt.Errorf("%s (%s) resolves %s to %v (%v), want %s", p.from, p.h.Name, p.to, ips, err, s.ip[p.to])
			}
			_, err = execIn(p.h, p.from, "ping", "-c", "1", "-W", "2", s.ip[p.to])
			return err
		})
	}
	t.Logf("e2e-1 (h1) and e2e-2 (h2) resolve and reach each other's new containers")
}

// pluginRootfsVersion returns the plugin reference and what the binary in the installed plugin's rootfs says
// its version is.
func (h *Host) pluginRootfsVersion(t *testing.T) string {
	t.Helper()
	ref := h.MustDocker(t, "plugin", "inspect", "--format", "{{.PluginReference}}", PluginName)
	id, err := h.PluginID()
	if err != nil {
		t.Fatal(err)
	}
	out, err := Run(30*time.Second, filepath.Join(h.DataRoot, "plugins", id, "rootfs", "weavego"), "version")
	return fmt.Sprintf("%s (rootfs: %s %v)", ref, strings.TrimSpace(out), err)
}

// makeInstall replaces h1's plugin (installed from the registry) with make install, which keeps its settings,
// while c2 on h2 pings c1 on h1 every 100 ms.
func (s *registryCluster) makeInstall(t *testing.T) {
	p, err := startPinger(s.h2, "c2", s.ip["c1"])
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	start := time.Now()
	err = s.h1.MakeInstall(filepath.Join(t.TempDir(), "e2e-3"), "e2e-3")
	took := time.Since(start)
	time.Sleep(3 * time.Second)
	res := p.stop()
	if err != nil {
		t.Fatalf("make install: %v", err)
	}
	t.Logf("make install of e2e-3 over e2e-1 on h1 took %s (build included); c2 -> c1 ping every 100 ms during it: %s",
		took.Round(10*time.Millisecond), res)
	if res.replies == 0 || res.longestGap > maxRestartGap {
		t.Errorf("traffic stopped too long during make install (bound %s): %s", maxRestartGap, res)
	}
	s.wantVersion(t, s.h1, "e2e-3")
	s.wantParked(t, s.h1)
	if ip, err := s.h1.ContainerIP("c1", "net1"); err != nil || ip != s.ip["c1"] {
		t.Errorf("c1's address after make install is %q (%v), want %s", ip, err, s.ip["c1"])
	}
	Eventually(t, time.Minute, func() error {
		st, err := s.h1.Status()
		if err == nil && st.peerState(s.h2.IP.String()) != "alive" {
			err = fmt.Errorf("h1 sees h2 as %q after make install", st.peerState(s.h2.IP.String()))
		}
		return err
	})
	s.reach(t, time.Minute)
}
