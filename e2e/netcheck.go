//go:build linux

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The multicast group and the UDP port the flood probe (e2e/flood) sends to and listens on.
const (
	FloodGroup = "239.1.1.7"
	FloodPort  = "9996"
)

// netView is what `docker network inspect` says of a network on one host.
type netView struct {
	ID, Driver, Subnet, Gateway, VNI string
}

// NetworkView inspects network name on h; of a dual-stack network it shows the first pool, the IPv4 one.
func (h *Host) NetworkView(name string) (netView, error) {
	out, err := h.Docker("network", "inspect", "--format",
		`{{.Id}}|{{.Driver}}|{{with index .IPAM.Config 0}}{{.Subnet}}|{{.Gateway}}{{end}}|{{index .Options "vni"}}`, name)
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
	dev, err := h.ContainerDev(ctr, ip)
	if err != nil {
		return "", err
	}
	mac, err := execIn(h, ctr, "cat", "/sys/class/net/"+dev+"/address")
	return strings.ToLower(strings.TrimSpace(mac)), err
}

// ContainerDev returns the name of the interface holding the IPv4 address ip inside container ctr.
func (h *Host) ContainerDev(ctr, ip string) (string, error) {
	out, err := execIn(h, ctr, "ip", "-o", "-4", "addr", "show")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && strings.HasPrefix(f[3], ip+"/") {
			return f[1], nil
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

// reaches tells whether container from on h reaches ip by ping or on port 8080, and what it saw.
func reaches(h *Host, from, ip string) (bool, string) {
	if out, err := execIn(h, from, "ping", "-c", "2", "-W", "1", ip); err == nil && !strings.Contains(out, " 100% packet loss") {
		return true, "ping: " + out
	}
	if out, err := execIn(h, from, "timeout", "4", "wget", "-qO-", fmt.Sprintf("http://%s:8080/", ip)); err == nil {
		return true, "wget: " + out
	}
	return false, ""
}

// unreachable fails t if container from on h reaches ip.
func unreachable(t *testing.T, h *Host, from, ip, what string) {
	t.Helper()
	if ok, saw := reaches(h, from, ip); ok {
		t.Errorf("%s on %s reached %s (%s) on another network: %q", from, h.Name, ip, what, saw)
	}
}

// gone returns nil once network name no longer exists on h.
func gone(h *Host, name string) error {
	v, err := h.NetworkView(name)
	if err == nil {
		return fmt.Errorf("%s still has network %s (%s)", h.Name, name, v.ID[:12])
	}
	if strings.Contains(err.Error(), "not found") || strings.Contains(err.Error(), "No such network") {
		return nil
	}
	return err
}

// wantBody polls url from container until the body contains want.
func wantBody(t *testing.T, h *Host, container, url, want string) {
	t.Helper()
	Eventually(t, 60*time.Second, func() error {
		out, err := execIn(h, container, Wget(url)...)
		if err != nil || !strings.Contains(out, want) {
			return fmt.Errorf("%s from %s: got %q, %v; want %q", url, container, out, err, want)
		}
		return nil
	})
}
