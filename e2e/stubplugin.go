//go:build linux

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// stubPlugin builds a plugin bundle whose process is testsrv serving the plugin socket; it answers every call
// with its greeting, which is enough to exercise create, set, enable, the socket path and the log dump.
func stubPlugin(t *testing.T) string {
	if err := images.build(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	for _, d := range []string{"run/docker/plugins", "var/lib/weavego", "var/run", "etc", "proc", "sys", "dev", "tmp"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin, err := os.ReadFile(filepath.Join(images.dir, "httpsrv"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "httpsrv"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	env := func(name, value string) map[string]any {
		return map[string]any{"name": name, "settable": []string{"value"}, "value": value}
	}
	mount := func(name, dest string) map[string]any {
		return map[string]any{"name": name, "destination": dest, "source": dest, "type": "bind",
			"options": []string{"rbind"}, "settable": []string{"source"}}
	}
	cfg := map[string]any{
		"description":   "weavego e2e stub",
		"documentation": "-",
		"entrypoint":    []string{"/httpsrv"},
		"env": []any{env("ADDR", "unix:/run/docker/plugins/"+PluginSocketName), env("NAME", "stub"),
			env("LOG_LEVEL", "info"), env("ADVERTISE_ADDR", "")},
		"interface": map[string]any{"socket": PluginSocketName, "types": []string{"docker.networkdriver/1.0", "docker.ipamdriver/1.0"}},
		"network":   map[string]any{"type": "host"},
		"mounts":    []any{mount("docker-api", "/var/run/docker.sock"), mount("state", "/var/lib/weavego")},
		"linux":     map[string]any{"capabilities": []string{"CAP_NET_ADMIN"}},
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}
