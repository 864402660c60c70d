//go:build linux

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// RegistryPort is the port of the test registry on UnderlayGateway. Every test daemon is started with
// --insecure-registry for it, since it speaks plain HTTP.
const RegistryPort = 5000

// registryBin is Debian's docker-registry (Docker's distribution registry), installed by scripts/prepare e2e.
const registryBin = "docker-registry"

// StartRegistry runs a registry on UnderlayGateway:RegistryPort in the underlay namespace, storing into a
// temporary directory, and returns its address (host:port). It stops at the end of t. It skips t when the
// registry is not installed.
func (c *Cluster) StartRegistry(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath(registryBin)
	if err != nil {
		t.Skipf("e2e: skipped: %s not installed (scripts/prepare e2e installs Debian's docker-registry)", registryBin)
	}
	addr := fmt.Sprintf("%s:%d", UnderlayGateway, RegistryPort)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, filepath.Join(dir, "data"), addr)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	c.StartUnderlay(t, "registry", bin, "serve", cfgPath)
	url := "http://" + addr + "/v2/"
	Eventually(t, 30*time.Second, func() error {
		_, err := c.UnderlayExec(Wget(url)...)
		return err
	})
	return addr
}

// RepoRoot is the weavego checkout the tests run from: the nearest directory above the working directory (a
// test package's own) that holds go.mod.
func RepoRoot() string {
	d, err := os.Getwd()
	if err != nil {
		return ".."
	}
	for dir := d; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		if dir == filepath.Dir(dir) {
			return filepath.Dir(d)
		}
	}
}

// PushPlugin builds the plugin with the given version into dir and pushes it as ref through host h's daemon,
// the way a user publishes it: make push PLUGIN_REF=ref DOCKER="docker -H <h>" VERSION=version.
func (h *Host) PushPlugin(dir, ref, version string) error {
	return h.PushPluginFrom(RepoRoot(), dir, ref, version)
}

// PushPluginFrom is PushPlugin with the plugin built from the source tree at root (another version of weavego).
func (h *Host) PushPluginFrom(root, dir, ref, version string) error {
	args := []string{"make", "-C", root, "push", "PLUGIN_REF=" + ref, "VERSION=" + version,
		"DOCKER=docker -H unix://" + h.DockerSock,
		"BIN=" + filepath.Join(dir, "weavego"), "BUNDLE=" + filepath.Join(dir, "plugin")}
	if _, err := Run(5*time.Minute, args...); err != nil {
		return fmt.Errorf("%s: %w", h.Name, err)
	}
	return nil
}

// MakeInstall runs make install against h's daemon, as a user replacing an older copy on one host would, with
// the binary, bundle and weavego command kept in dir (nothing goes to the machine's /usr/local/bin).
func (h *Host) MakeInstall(dir, version string) error {
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		return err
	}
	args := []string{"make", "-C", RepoRoot(), "install", "VERSION=" + version,
		"DOCKER=docker -H unix://" + h.DockerSock, "BIN=" + filepath.Join(dir, "weavego"),
		"BUNDLE=" + filepath.Join(dir, "plugin"), "BINDIR=" + filepath.Join(dir, "bin"), "STATE_DIR=" + filepath.Join(h.Dir, "plugin-state")}
	_, err := Run(5*time.Minute, args...)
	if id, ierr := h.PluginID(); ierr == nil {
		_ = h.recordID(id)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", h.Name, err)
	}
	return nil
}

// pluginSettings returns the plugin settings of the e2e hosts: docker-api and state mounts, LOG_LEVEL=debug,
// ADVERTISE_ADDR, then env, in a stable order.
func (h *Host) pluginSettings(env map[string]string) ([]string, error) {
	state := filepath.Join(h.Dir, "plugin-state")
	if err := os.MkdirAll(state, 0o755); err != nil {
		return nil, err
	}
	settings := map[string]string{"LOG_LEVEL": "debug", "ADVERTISE_ADDR": h.IP.String()}
	for k, v := range env {
		settings[k] = v
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := []string{"docker-api.source=" + h.DockerSock, "state.source=" + state}
	for _, k := range keys {
		out = append(out, k+"="+settings[k])
	}
	return out, nil
}

// InstallPluginFromRegistry installs ref as a user would, with the settings on the command line:
// docker plugin install --grant-all-permissions --alias weavego ref docker-api.source=... PEERS=... and
// so on. It enables the plugin (docker plugin install does).
func (h *Host) InstallPluginFromRegistry(ref string, env map[string]string) error {
	settings, err := h.pluginSettings(env)
	if err != nil {
		return err
	}
	args := append([]string{"plugin", "install", "--grant-all-permissions", "--alias", PluginName, ref}, settings...)
	_, err = h.Docker(args...)
	if id, ierr := h.PluginID(); ierr == nil {
		_ = h.recordID(id)
	}
	if err != nil {
		return fmt.Errorf("%w\nplugin log:\n%s", err, strings.Join(h.PluginLogs(), "\n"))
	}
	return nil
}

// recordID notes a plugin id like recordPluginID, for a plugin whose id is already known.
func (h *Host) recordID(id string) error {
	f, err := os.OpenFile(filepath.Join(h.Dir, pluginIDsFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = fmt.Fprintln(f, id)
	return err
}

// settingsTemplate prints a plugin's settings as NAME=VALUE and MOUNT.source=PATH lines, ready for
// docker plugin set (the Makefile's install uses the same).
const settingsTemplate = `{{range .Settings.Env}}{{println .}}{{end}}` +
	`{{range .Settings.Mounts}}{{if .Source}}{{.Name}}.source={{.Source}}{{println}}{{end}}{{end}}`

// UpgradePlugin upgrades the installed plugin to ref in place: disable (forced: networks use it), docker
// plugin upgrade, set the settings again (Docker 20.10's upgrade resets the mounts' sources to the
// defaults), enable.
func (h *Host) UpgradePlugin(ref string) error {
	out, err := h.Docker("plugin", "inspect", "--format", settingsTemplate, PluginName)
	if err != nil {
		return err
	}
	set := append([]string{"plugin", "set", PluginName}, strings.Fields(out)...)
	steps := [][]string{
		{"plugin", "disable", "-f", PluginName},
		{"plugin", "upgrade", "--grant-all-permissions", "--skip-remote-check", PluginName, ref},
		set,
		{"plugin", "enable", PluginName},
	}
	for _, s := range steps {
		if _, err := h.Docker(s...); err != nil {
			return fmt.Errorf("%w\nplugin log:\n%s", err, strings.Join(lastN(h.PluginLogs(), 30), "\n"))
		}
	}
	if id, err := h.PluginID(); err == nil {
		_ = h.recordID(id)
	}
	return nil
}

func lastN(lines []string, n int) []string {
	if len(lines) > n {
		return lines[len(lines)-n:]
	}
	return lines
}
