//go:build linux

package e2e

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Deadlines are generous: the machine may have two cores shared with other work.
const (
	readyTimeout      = 3 * time.Minute
	dockerCmdTimeout  = 4 * time.Minute
	dockerdStopGrace  = 90 * time.Second
	containerdGrace   = 30 * time.Second
	underlayLinkStart = 10 // host N gets underlay address .(10+N)
)

// Host is one Docker host: a network namespace with its own containerd and dockerd. Its exported fields are
// fixed at creation. Methods may be called from several goroutines.
type Host struct {
	// Name is h1, h2, ...
	Name string
	// NetNS is the host's network namespace, wge2e-<run>-hN (a file under /var/run/netns).
	NetNS string
	// IP is the host's address on the underlay (on its interface eth0).
	IP netip.Addr
	// Dir holds everything of the host; DataRoot and ExecRoot are dockerd's roots inside it.
	Dir, DataRoot, ExecRoot string
	// DockerSock is the path of the daemon's API socket.
	DockerSock string

	cluster        *Cluster
	index          int
	containerdSock string

	// mu guards dockerd and containerd, which StopDocker/StartDocker replace while tests run, and
	// liveRestore.
	mu         sync.Mutex
	dockerd    *Daemon
	containerd *Daemon
	// liveRestore puts "live-restore": true in the daemon.json of the next StartDocker.
	liveRestore bool
	// daemon holds the daemon.json settings of ClusterOptions.Daemon; set before setup, then only read.
	daemon map[string]any
}

// SetLiveRestore turns dockerd's live-restore on or off from the next StartDocker: with it, stopping dockerd
// leaves the containers and the enabled plugins running.
func (h *Host) SetLiveRestore(on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.liveRestore = on
}

func newHost(c *Cluster, index int) *Host {
	dir := filepath.Join(c.dir, fmt.Sprintf("h%d", index))
	// Keep ExecRoot short: the plugin socket <ExecRoot>/plugins/<64 hex id>/weavego.sock must fit in the
	// 108 bytes of a unix socket address.
	return &Host{
		Name:           fmt.Sprintf("h%d", index),
		NetNS:          fmt.Sprintf("%s%s-h%d", Prefix, c.ID, index),
		IP:             c.hostAddr(index),
		Dir:            dir,
		DataRoot:       filepath.Join(dir, "data"),
		ExecRoot:       filepath.Join(dir, "x"),
		DockerSock:     filepath.Join(dir, "docker.sock"),
		cluster:        c,
		index:          index,
		containerdSock: filepath.Join(dir, "containerd", "containerd.sock"),
	}
}

// hostAddr is host index's underlay address: .(10+index) of the underlay's prefix.
func (c *Cluster) hostAddr(index int) netip.Addr {
	if c.ipv6 {
		return AddrAt(UnderlayPrefix6, underlayLinkStart+index)
	}
	return AddrAt(UnderlayPrefix, underlayLinkStart+index)
}

// UnderlayLink is the name of the host's veth end on the underlay bridge.
func (h *Host) UnderlayLink() string { return h.Name }

func (h *Host) NSPath() string { return filepath.Join(NetnsDir, h.NetNS) }

// setup creates the namespace and its underlay link, then starts containerd and dockerd.
func (h *Host) setup() error {
	for _, d := range []string{h.Dir, h.DataRoot, h.ExecRoot, filepath.Dir(h.containerdSock)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
	}
	ul := h.cluster.UnderlayNS
	steps := [][]string{
		{"ip", "netns", "add", h.NetNS},
		{"ip", "-n", h.NetNS, "link", "set", "lo", "up"},
		{"ip", "-n", ul, "link", "add", "name", h.UnderlayLink(), "type", "veth", "peer", "name", "eth0", "netns", h.NetNS},
		{"ip", "-n", ul, "link", "set", h.UnderlayLink(), "master", "br0", "up"},
		append(append([]string{"ip", "-n", h.NetNS, "addr", "add"}, h.cluster.underlayAddr(h.IP, h.IP)...), "dev", "eth0"),
		{"ip", "-n", h.NetNS, "link", "set", "eth0", "up"},
	}
	for _, s := range steps {
		if _, err := Run(30*time.Second, s...); err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
	}
	// Docker's nftables backend never turns IPv4 forwarding on and refuses to start without it: the host's
	// administrator turns it on, as Docker's documentation says (a new namespace copies the machine's value).
	if h.nftables() {
		if _, err := h.Exec("sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"); err != nil {
			return fmt.Errorf("%s: turn IPv4 forwarding on: %w", h.Name, err)
		}
	}
	if err := h.startContainerd(); err != nil {
		return err
	}
	return h.StartDocker()
}

// AddrAt returns the n-th address of p.
func AddrAt(p netip.Prefix, n int) netip.Addr {
	a := p.Addr()
	for i := 0; i < n; i++ {
		a = a.Next()
	}
	return a
}

func (h *Host) startContainerd() error {
	cdir := filepath.Dir(h.containerdSock)
	cfg := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = %q

[ttrpc]
  address = %q

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = %q
`, filepath.Join(cdir, "root"), filepath.Join(cdir, "state"), h.containerdSock, h.containerdSock+".ttrpc", filepath.Join(cdir, "opt"))
	cfgPath := filepath.Join(cdir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return fmt.Errorf("%s: containerd config: %w", h.Name, err)
	}
	d, err := startDaemon(h.Name+" containerd", filepath.Join(h.Dir, "containerd.log"),
		h.daemonCmd("containerd", "--config", cfgPath,
			"--address", h.containerdSock, "--root", filepath.Join(cdir, "root"), "--state", filepath.Join(cdir, "state"))...)
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.containerd = d
	h.mu.Unlock()
	return h.waitContainerd(d)
}

// waitContainerd waits until containerd answers on its socket. A containerd started again after a crash restores
// the tasks whose shims survived before it listens, and dockerd 29 gives up at once when the socket refuses.
func (h *Host) waitContainerd(d *Daemon) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		c, err := net.DialTimeout("unix", h.containerdSock, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if !d.running() {
			return fmt.Errorf("%s: containerd exited (%v) before it was ready; log tail:\n%s", h.Name, d.err,
				tailFile(d.logPath, 20))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: containerd not listening on %s after %s: %w", h.Name, h.containerdSock, readyTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (h *Host) dockerdArgs() []string {
	args := h.daemonCmd("dockerd",
		"--config-file", filepath.Join(h.Dir, "daemon.json"),
		"--containerd", h.containerdSock,
		"--data-root", h.DataRoot,
		"--exec-root", h.ExecRoot,
		"--pidfile", filepath.Join(h.Dir, "dockerd.pid"),
		"-H", "unix://"+h.DockerSock,
		"--bip", fmt.Sprintf("172.30.%d.1/24", h.index),
		"--iptables=true",
		"--cgroup-parent", "/"+h.NetNS,
		// The registry that TestInstallFromRegistry runs in the underlay namespace speaks plain HTTP.
		"--insecure-registry", fmt.Sprintf("%s:%d", UnderlayGateway, RegistryPort),
	)
	if sd := os.Getenv("WEAVEGO_E2E_STORAGE_DRIVER"); sd != "" {
		args = append(args, "--storage-driver", sd)
	}
	return args
}

// StartDocker starts the host's dockerd (after StopDocker, or at setup) and waits until it answers.
func (h *Host) StartDocker() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.dockerd != nil && h.dockerd.running() {
		return fmt.Errorf("%s: dockerd already running", h.Name)
	}
	// An empty config file keeps the system's /etc/docker/daemon.json (data-root, storage driver) away.
	if err := os.WriteFile(filepath.Join(h.Dir, "daemon.json"), []byte(h.daemonConfig()), 0o644); err != nil {
		return fmt.Errorf("%s: %w", h.Name, err)
	}
	d, err := startDaemon(h.Name+" dockerd", h.dockerdLog(), h.dockerdArgs()...)
	if err != nil {
		return fmt.Errorf("%s: %w", h.Name, err)
	}
	h.dockerd = d
	return h.waitReady(d)
}

func (h *Host) dockerdLog() string { return filepath.Join(h.Dir, "dockerd.log") }

// waitReady polls `docker info` until the daemon answers, it exits, or readyTimeout passes.
func (h *Host) waitReady(d *Daemon) error {
	deadline := time.Now().Add(readyTimeout)
	var lastErr error
	for time.Now().Before(deadline) {
		if !d.running() {
			return fmt.Errorf("%s: dockerd exited (%v) before it was ready; log tail:\n%s", h.Name, d.err, h.DockerdLog(30))
		}
		if _, err := Run(20*time.Second, h.dockerArgs("info", "--format", "{{.ServerVersion}}")...); err == nil {
			return nil
		} else {
			lastErr = err
		}
		time.Sleep(300 * time.Millisecond)
	}
	return fmt.Errorf("%s: dockerd not ready after %s (%v); log tail:\n%s\ncontainerd log tail:\n%s", h.Name, readyTimeout,
		lastErr, h.DockerdLog(30), tailFile(filepath.Join(h.Dir, "containerd.log"), 10))
}

// StopDocker stops the host's dockerd with SIGTERM (SIGKILL after a deadline). containerd keeps running.
func (h *Host) StopDocker() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.dockerd == nil {
		return nil
	}
	if err := h.dockerd.Stop(dockerdStopGrace); err != nil {
		return fmt.Errorf("%s: %w", h.Name, err)
	}
	return nil
}

// KillDocker kills the host's dockerd with SIGKILL, as a crash would.
func (h *Host) KillDocker() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.dockerd == nil || !h.dockerd.running() {
		return nil
	}
	return h.dockerd.kill("")
}

func (h *Host) dockerArgs(args ...string) []string {
	return append([]string{"docker", "-H", "unix://" + h.DockerSock}, args...)
}

// Docker runs the docker CLI against this host and returns its stdout; the error includes stderr.
func (h *Host) Docker(args ...string) (string, error) {
	out, err := Run(dockerCmdTimeout, h.dockerArgs(args...)...)
	if err != nil {
		return out, fmt.Errorf("%s: %w", h.Name, err)
	}
	return out, nil
}

// Exec runs a command in the host's network namespace (nsenter --net; mounts and /sys are the machine's) and
// returns its stdout; the error includes stderr.
func (h *Host) Exec(args ...string) (string, error) {
	out, err := Run(2*time.Minute, append([]string{"nsenter", "--net=" + h.NSPath(), "--"}, args...)...)
	if err != nil {
		return out, fmt.Errorf("%s: %w", h.Name, err)
	}
	return out, nil
}

// CutUnderlay takes the host's link to the underlay bridge down: the host keeps its address but loses carrier.
func (h *Host) CutUnderlay() error {
	_, err := Run(30*time.Second, "ip", "-n", h.cluster.UnderlayNS, "link", "set", h.UnderlayLink(), "down")
	return err
}

// RestoreUnderlay undoes CutUnderlay.
func (h *Host) RestoreUnderlay() error {
	_, err := Run(30*time.Second, "ip", "-n", h.cluster.UnderlayNS, "link", "set", h.UnderlayLink(), "up")
	return err
}

// DockerdLog returns the last n lines of the host's dockerd log, without containerd client chatter.
func (h *Host) DockerdLog(n int) string {
	b, err := os.ReadFile(h.dockerdLog())
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", h.dockerdLog(), err)
	}
	var keep []string
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.Contains(line, "module=grpc") {
			keep = append(keep, line)
		}
	}
	return LastLines(strings.Join(keep, "\n"), n)
}

// teardown stops dockerd then containerd, unmounts what they left, and deletes the namespace. First it fails
// the test if the plugin crashed, and for a failed test it saves the logs and summarises them (reportLogs).
func (h *Host) teardown(failed bool) error {
	t := h.cluster.t
	h.reportLogs(failed)
	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []error
	if h.dockerd != nil {
		errs = append(errs, h.dockerd.Stop(dockerdStopGrace))
	}
	if h.containerd != nil {
		errs = append(errs, h.containerd.Stop(containerdGrace))
	}
	// Shims outlive containerd, and Docker may leave one behind (a plugin's after `plugin disable -f`, a
	// container's after a crash): stop them before their mounts, cgroups and namespace go.
	if left := h.leftoverProcesses(); len(left) > 0 {
		t.Logf("e2e: %s: stopping what its daemons left running: %s", h.Name, describe(left))
		errs = append(errs, terminate(left, 5*time.Second))
	}
	if _, err := unmountUnder(h.Dir + "/"); err != nil {
		errs = append(errs, err)
	}
	if _, err := os.Stat(h.NSPath()); err == nil {
		if _, err := Run(30*time.Second, "ip", "netns", "delete", h.NetNS); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, h.removeStalePluginDirs())
	// runc removes each container's cgroup but not the --cgroup-parent above them.
	cgs, _ := filepath.Glob(filepath.Join(cgRoot, "*", h.NetNS))
	for _, cg := range cgs {
		errs = append(errs, removeCgroup(cg))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s: %w", h.Name, err)
	}
	return nil
}

// removeStalePluginDirs removes what a dockerd that did not stop cleanly left of this host's plugins under
// the shared /run/docker/plugins; dirs of other daemons are never touched.
func (h *Host) removeStalePluginDirs() error {
	b, err := os.ReadFile(filepath.Join(h.Dir, pluginIDsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil // no plugin was ever installed on h
	}
	if err != nil {
		return fmt.Errorf("%s: recorded plugin ids: %w", h.Name, err)
	}
	var errs []error
	for _, id := range strings.Fields(string(b)) {
		dir := filepath.Join(sharedPluginRoot, id)
		if _, err := os.Stat(dir); err == nil && pluginIDPattern.MatchString(id) {
			_, err := unmountUnder(dir + "/")
			errs = append(errs, err, os.RemoveAll(dir))
		}
	}
	return errors.Join(errs...)
}
