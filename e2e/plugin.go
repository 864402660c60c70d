//go:build linux

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	// PluginName is the name tests give the plugin in `docker plugin create`.
	PluginName = "weavego"
	// Driver is how Docker 20.10 addresses a managed plugin: by its full name, for -d and --ipam-driver.
	Driver = PluginName + ":latest"
	// PluginSocketName is the socket the plugin serves (config.json interface.socket).
	PluginSocketName = "weavego.sock"
)

// PluginDir is the plugin bundle (config.json and rootfs/): $WEAVEGO_PLUGIN_DIR, or ../build/plugin.
func PluginDir() string {
	if d := os.Getenv("WEAVEGO_PLUGIN_DIR"); d != "" {
		return d
	}
	return filepath.Join(RepoRoot(), "build", "plugin")
}

// RequirePlugin skips t when the plugin bundle has not been built (make plugin).
func RequirePlugin(t testing.TB) {
	t.Helper()
	RequireE2E(t)
	dir := PluginDir()
	for _, p := range []string{"config.json", "rootfs"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Skipf("e2e: skipped: plugin bundle not built: %s missing (build it, or set WEAVEGO_PLUGIN_DIR)", filepath.Join(dir, p))
		}
	}
}

// InstallPlugin creates the plugin from PluginDir on this host, points its docker-api mount at the host's
// daemon and its state mount at a per-host directory, sets env (KEY -> value; LOG_LEVEL defaults to debug and
// ADVERTISE_ADDR to the host's underlay IP) and enables it.
func (h *Host) InstallPlugin(env map[string]string) error {
	return h.installPluginFrom(PluginDir(), env)
}

func (h *Host) installPluginFrom(dir string, env map[string]string) error {
	state := filepath.Join(h.Dir, "plugin-state")
	if err := os.MkdirAll(state, 0o755); err != nil {
		return err
	}
	if _, err := h.Docker("plugin", "create", PluginName, dir); err != nil {
		return err
	}
	if err := h.recordPluginID(); err != nil {
		return err
	}
	settings := map[string]string{"LOG_LEVEL": "debug", "ADVERTISE_ADDR": h.IP.String()}
	for k, v := range env {
		settings[k] = v
	}
	args := []string{"plugin", "set", PluginName, "docker-api.source=" + h.DockerSock, "state.source=" + state}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, k+"="+settings[k])
	}
	if _, err := h.Docker(args...); err != nil {
		return err
	}
	if _, err := h.Docker("plugin", "enable", PluginName); err != nil {
		return fmt.Errorf("%w\nplugin log:\n%s", err, strings.Join(h.PluginLogs(), "\n"))
	}
	return nil
}

// PluginID returns the full id of the installed plugin.
func (h *Host) PluginID() (string, error) {
	out, err := h.Docker("plugin", "inspect", "--format", "{{.Id}}", PluginName)
	return strings.TrimSpace(out), err
}

// pluginExecRoots are where daemons put plugin sockets: Docker 20.10 uses /run/docker/plugins/<id> whatever
// its --exec-root (to keep socket paths short), so daemons share that directory; others use
// <exec-root>/plugins/<id>.
func (h *Host) pluginExecRoots() []string {
	return []string{"/run/docker/plugins", filepath.Join(h.ExecRoot, "plugins")}
}

// PluginSocket returns the host-side path of the plugin's socket, /run/docker/plugins/<id>/weavego.sock on
// Docker 20.10 or <ExecRoot>/plugins/<id>/weavego.sock.
func (h *Host) PluginSocket() (string, error) {
	id, err := h.PluginID()
	if err != nil {
		return "", err
	}
	var tried []string
	for _, root := range h.pluginExecRoots() {
		p := filepath.Join(root, id, PluginSocketName)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		tried = append(tried, p)
	}
	return "", fmt.Errorf("%s: plugin socket not found at %s", h.Name, strings.Join(tried, " or "))
}

// recordPluginID notes a plugin id in the host directory, so that teardown and later sweeps can remove its
// directory under the shared /run/docker/plugins.
func (h *Host) recordPluginID() error {
	id, err := h.PluginID()
	if err != nil {
		return err
	}
	return h.recordID(id)
}

// PluginLogs returns the plugin's output: the lines of the daemon log that carry plugin=<id>.
func (h *Host) PluginLogs() []string {
	b, err := os.ReadFile(h.dockerdLog())
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "plugin=") {
			out = append(out, line)
		}
	}
	return out
}

// PostPlugin posts body straight to path (e.g. /NetworkDriver.CreateNetwork) on the plugin socket sock, as the
// daemon would, and returns the status code and response body.
func PostPlugin(sock, path, body string) (int, []byte, error) {
	client := unixClient(sock, 30*time.Second)
	defer client.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodPost, "http://plugin"+path, bytes.NewBufferString(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/vnd.docker.plugins.v1.2+json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("post %s to %s: %w", path, sock, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// PluginPIDs returns the pids of the `weavego daemon` processes in h's network namespace.
func (h *Host) PluginPIDs() ([]int, error) {
	fi, err := os.Stat(h.NSPath())
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

// PluginThreadsElsewhere returns the threads of h's plugin process that are not in h's network namespace, as
// "tid net:[inode]". The plugin enters a network's namespace on a thread of its own that it discards after;
// a thread that stays in one holds the namespace, and the devices in it, after the network is removed.
func (h *Host) PluginThreadsElsewhere() ([]string, error) {
	pid, err := h.pluginPID()
	if err != nil {
		return nil, err
	}
	want, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		return nil, err
	}
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, task := range tasks {
		ns, err := os.Readlink(fmt.Sprintf("/proc/%d/task/%s/ns/net", pid, task.Name()))
		if err == nil && ns != want {
			out = append(out, task.Name()+" "+ns)
		}
	}
	return out, nil
}

// pluginPID returns the pid of h's one plugin process (whose main thread is in h's namespace).
func (h *Host) pluginPID() (int, error) {
	pids, err := h.PluginPIDs()
	if err != nil {
		return 0, err
	}
	if len(pids) != 1 {
		return 0, fmt.Errorf("%s: want one weavego daemon in the namespace, found pids %v", h.Name, pids)
	}
	return pids[0], nil
}

// KillPlugin sends SIGKILL to h's plugin process and returns its pid.
func (h *Host) KillPlugin() (int, error) {
	pid, err := h.pluginPID()
	if err != nil {
		return 0, err
	}
	return pid, syscall.Kill(pid, syscall.SIGKILL)
}

// waitPluginBack waits until a plugin process other than old runs on h and answers its status API.
// enablePlugin enables h's plugin until its status answers: Docker may still hold a failed start's container
// for a moment, so a failed enable is retried (after a disable) for a minute.
func enablePlugin(t *testing.T, h *Host) {
	t.Helper()
	Eventually(t, time.Minute, func() error {
		if _, err := h.Docker("plugin", "enable", PluginName); err != nil {
			_, _ = h.Docker("plugin", "disable", "-f", PluginName)
			return err
		}
		_, err := h.Status()
		return err
	})
}

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

// DockerAPI sends body to path of h's Docker API (e.g. POST /v1.48/networks/NET/connect), for what the docker
// command of the test machine (20.10) cannot say, and returns the status code and response body.
func (h *Host) DockerAPI(method, path, body string) (int, string, error) {
	client := unixClient(h.DockerSock, dockerCmdTimeout)
	defer client.CloseIdleConnections()
	req, err := http.NewRequest(method, "http://docker"+path, bytes.NewBufferString(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("%s: %s %s: %w", h.Name, method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// unixClient is an HTTP client whose every request goes to the unix socket sock.
func unixClient(sock string, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}},
	}
}
