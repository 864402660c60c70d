//go:build linux

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// stubResolverAddr is where systemd-resolved listens on the hosts it runs on.
const stubResolverAddr = "127.0.0.53:53"

// TestSystemdResolvedHost: a host whose resolv.conf names only systemd-resolved's stub (127.0.0.53) and no
// DNS_UPSTREAM: containers still resolve outside names through dnsd, which forwards to the stub in the host's
// network namespace.
func TestSystemdResolvedHost(t *testing.T) {
	RequirePlugin(t)
	c := NewCluster(t, ClusterOptions{Hosts: 1})
	h := c.Host(0)
	// The plugin reads RESOLV_CONF inside its rootfs; the state mount is where a test can put a file.
	state := filepath.Join(h.Dir, "plugin-state")
	if err := os.MkdirAll(state, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := "# written by systemd-resolved\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n"
	if err := os.WriteFile(filepath.Join(state, "resolv-stub.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Exec("ip", "link", "set", "lo", "up"); err != nil {
		t.Fatal(err)
	}
	stub := ServeOutsideNameIn(t, h.NSPath(), stubResolverAddr)
	if err := h.InstallPlugin(map[string]string{"RESOLV_CONF": "/var/lib/weavego/resolv-stub.conf"}); err != nil {
		t.Fatal(err)
	}
	h.CreateNetwork(t, "net1", netArgs...)
	v, err := h.NetworkView("net1")
	if err != nil {
		t.Fatal(err)
	}
	h.RunContainer(t, "--name", "client", "--network", "net1", "--dns", v.Gateway, BusyboxImage, "sleep", "3600")
	Eventually(t, time.Minute, func() error {
		ips, err := nslookup(h, "client", OutsideName)
		if err != nil || !slices.Equal(ips, []string{outsideAddr}) {
			return fmt.Errorf("nslookup %s through dnsd at %s: %v, %v; want [%s]", OutsideName, v.Gateway, ips, err, outsideAddr)
		}
		return nil
	})
	if stub.Load() == 0 {
		t.Errorf("%s was answered but the stub resolver at %s got no query", OutsideName, stubResolverAddr)
	}
	t.Logf("outside name resolved through the host's stub resolver %s (%d queries)", stubResolverAddr, stub.Load())
}
