//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// encryptedNet is the encrypted network TestRollingUpgrade creates while hosts of the previous release remain.
const encryptedNet = "encnet"

// createEncrypted creates the encrypted network on the upgraded host h1 while old, of the previous release
// (which knows no encryption), runs beside it: the upgraded hosts build it and their containers talk over it;
// old never builds it, so none of its containers can join it or send its traffic in clear, and its log says
// why. It returns the containers started on it, by host.
func (r *rolling) createEncrypted(t *testing.T, upgraded []*Host, old *Host) map[*Host]string {
	t.Helper()
	h1 := upgraded[0]
	h1.CreateNetwork(t, encryptedNet, append(append([]string{}, netArgs...), "--subnet", "10.64.0.0/24",
		"-o", "encrypted")...)
	ctr := map[*Host]string{}
	for i, h := range upgraded {
		Eventually(t, time.Minute, func() error {
			_, err := h.Docker("network", "inspect", encryptedNet)
			return err
		})
		ctr[h] = fmt.Sprintf("enc%d", i+1)
		h.RunContainer(t, "--name", ctr[h], "--network", encryptedNet, BusyboxImage, "sleep", "3600")
	}
	r.wantEncrypted(t, ctr, "upgraded hosts beside one of the previous release")
	// The old host has had as long as the upgraded ones, and more: the definition never reaches it.
	time.Sleep(10 * time.Second)
	if _, err := old.Docker("network", "inspect", encryptedNet); err == nil {
		t.Errorf("%s, of the previous release, built the encrypted network %s (in clear)", old.Name, encryptedNet)
	}
	if _, err := old.Docker("run", "-d", "--name", "encold", "--network", encryptedNet, BusyboxImage, "sleep", "60"); err == nil {
		_, _ = old.Docker("rm", "-f", "encold")
		t.Errorf("%s, of the previous release, started a container on the encrypted network", old.Name)
	}
	said := false
	for _, l := range old.PluginLogs() {
		if strings.Contains(l, "does not know") && strings.Contains(l, "encnet") {
			said = true
			t.Logf("%s (previous release) says: %s", old.Name, l)
			break
		}
	}
	if !said {
		t.Errorf("%s, of the previous release, does not say in its log that it ignores the encrypted network's definition",
			old.Name)
	}
	return ctr
}

// joinEncrypted checks that h, just upgraded, builds the encrypted network and that a container on it talks
// with those of the other hosts.
func (r *rolling) joinEncrypted(t *testing.T, h *Host, ctr map[*Host]string) {
	t.Helper()
	Eventually(t, time.Minute, func() error {
		_, err := h.Docker("network", "inspect", encryptedNet)
		return err
	})
	ctr[h] = "enc-" + h.Name
	h.RunContainer(t, "--name", ctr[h], "--network", encryptedNet, BusyboxImage, "sleep", "3600")
	r.wantEncrypted(t, ctr, h.Name+" upgraded")
}

// wantEncrypted checks, within a minute each, that every container of ctr pings every other over the
// encrypted network.
func (r *rolling) wantEncrypted(t *testing.T, ctr map[*Host]string, stage string) {
	t.Helper()
	start := time.Now()
	ips := map[*Host]string{}
	for h, n := range ctr {
		ip, err := h.ContainerIP(n, encryptedNet)
		if err != nil {
			t.Fatalf("%s: %v", stage, err)
		}
		ips[h] = ip
	}
	for from, src := range ctr {
		for to := range ctr {
			if to == from {
				continue
			}
			Eventually(t, time.Minute, func() error {
				if out, err := execIn(from, src, "ping", "-c", "1", "-W", "2", ips[to]); err != nil {
					return fmt.Errorf("%s: ping %s (%s) over %s from %s: %v %s", stage, ctr[to], ips[to],
						encryptedNet, from.Name, err, out)
				}
				return nil
			})
		}
	}
	t.Logf("%s: the %d containers of the encrypted network reach each other (%s)", stage, len(ctr),
		time.Since(start).Round(100*time.Millisecond))
}

// grantTUN adds the TUN device to the plugin configuration (config.json) of the release tree root, if it
// lacks it. `docker plugin upgrade` keeps the devices of the first install (Docker copies a plugin's
// settings, devices among them, from its configuration only when it is installed), so hosts upgraded from a
// release that asked for no TUN device cannot run wireguard-go and refuse encrypted networks; the rolling
// upgrade installs the previous release's code with the device granted, so that the hosts it upgrades can
// encrypt. The previous release's binary does not use the device.
func grantTUN(t *testing.T, root string) {
	t.Helper()
	path := filepath.Join(root, "config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if hasTUN(root) {
		return
	}
	linux, _ := cfg["linux"].(map[string]any)
	if linux == nil {
		t.Fatalf("%s has no linux section", path)
	}
	linux["devices"] = []any{map[string]any{"name": "tun", "description": "the TUN device", "path": "/dev/net/tun"}}
	if b, err = json.MarshalIndent(cfg, "", "  "); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// hasTUN tells whether the plugin configuration of the release tree root grants the TUN device.
func hasTUN(root string) bool {
	b, err := os.ReadFile(filepath.Join(root, "config.json"))
	return err == nil && strings.Contains(string(b), `"/dev/net/tun"`)
}
