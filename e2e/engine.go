//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Engines the suite runs on, chosen with WEAVEGO_ENGINE.
const (
	// Engine2010 is Debian's docker.io (20.10) with its containerd and runc, found on the PATH. The default.
	Engine2010 = "20.10"
	// Engine29 is a Docker Engine 29 built by scripts/engine29 (dockerd, docker-proxy, containerd, runc) into a
	// cache directory, which goes first on the PATH of each host's containerd and dockerd.
	Engine29 = "29"
)

// engine29DefaultBin is where scripts/engine29 puts its binaries unless WEAVEGO_ENGINE_CACHE says otherwise.
const engine29DefaultBin = "/var/cache/weavego/engine29/29.8.1/bin"

// Engine returns the engine this run tests, from WEAVEGO_ENGINE (20.10 or 29; empty means 20.10).
func Engine() string {
	switch e := strings.TrimSpace(os.Getenv("WEAVEGO_ENGINE")); e {
	case "", Engine2010:
		return Engine2010
	default:
		return e
	}
}

// engineBinDir returns the directory to put first on the daemons' PATH ("" for the system's engine):
// $WEAVEGO_ENGINE_BIN, else the default cache of scripts/engine29.
func engineBinDir() string {
	if Engine() != Engine29 {
		return ""
	}
	if d := os.Getenv("WEAVEGO_ENGINE_BIN"); d != "" {
		return d
	}
	return engine29DefaultBin
}

// checkEngine returns why the chosen engine cannot run here, or nil.
func checkEngine() error {
	switch Engine() {
	case Engine2010:
		return nil
	case Engine29:
		dir := engineBinDir()
		for _, b := range []string{"dockerd", "docker-proxy", "containerd", "containerd-shim-runc-v2", "runc"} {
			if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
				return fmt.Errorf("WEAVEGO_ENGINE=29 but %s is missing: build the engine with scripts/engine29 "+
					"(or set WEAVEGO_ENGINE_BIN to its bin directory)", filepath.Join(dir, b))
			}
		}
		return nil
	default:
		return fmt.Errorf("WEAVEGO_ENGINE=%q: want %s or %s", Engine(), Engine2010, Engine29)
	}
}

// requireEngine fails t when the chosen engine is not usable: a run that asked for an engine must not pass
// by skipping.
func requireEngine(t testing.TB) {
	t.Helper()
	if err := checkEngine(); err != nil {
		t.Fatalf("e2e: %v", err)
	}
}

// daemonCmd returns the command line that runs bin (containerd or dockerd) with args inside the host's
// network namespace, with the chosen engine's binaries first on its PATH.
func (h *Host) daemonCmd(bin string, args ...string) []string {
	cmd := []string{"nsenter", "--net=" + h.NSPath(), "--"}
	if dir := engineBinDir(); dir != "" {
		cmd = append(cmd, "env", "PATH="+dir+":"+pathOf(CleanEnv()))
	}
	return append(append(cmd, bin), args...)
}

// pathOf returns the PATH value of an environment list.
func pathOf(env []string) string {
	for _, kv := range env {
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			return p
		}
	}
	return ""
}

// daemonConfig is the host's daemon.json. An empty config keeps the system's /etc/docker/daemon.json
// (data-root, storage driver) away. It holds the settings of ClusterOptions.Daemon; on 29,
// WEAVEGO_E2E_FIREWALL_BACKEND=nftables selects the engine's nftables firewall backend instead of its
// default, iptables, for every host of the run. SetLiveRestore adds live-restore. h.mu is held.
func (h *Host) daemonConfig() string {
	cfg := map[string]any{}
	maps.Copy(cfg, h.daemon)
	if fb := os.Getenv("WEAVEGO_E2E_FIREWALL_BACKEND"); fb != "" && Engine() == Engine29 {
		cfg["firewall-backend"] = fb
	}
	if h.liveRestore {
		cfg["live-restore"] = true
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		panic(fmt.Sprintf("e2e: daemon.json of %s: %v", h.Name, err)) // a test gave a value JSON cannot hold
	}
	return string(b) + "\n"
}

// nftables tells whether the host's dockerd runs Docker 29's nftables firewall backend.
func (h *Host) nftables() bool {
	if Engine() != Engine29 {
		return false
	}
	return h.daemon["firewall-backend"] == "nftables" || os.Getenv("WEAVEGO_E2E_FIREWALL_BACKEND") == "nftables"
}
