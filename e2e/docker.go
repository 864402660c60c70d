//go:build linux

package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// MustDocker runs the docker CLI on h and fails t on error. It returns stdout without surrounding space.
func (h *Host) MustDocker(t testing.TB, args ...string) string {
	t.Helper()
	out, err := h.Docker(args...)
	if err != nil {
		t.Fatalf("e2e: %v", err)
	}
	return strings.TrimSpace(out)
}

// CreateNetwork creates a network with `docker network create args... name` and removes it at the end of t
// (after the containers t started, since cleanups run last-in first-out). A failed removal fails t.
func (h *Host) CreateNetwork(t testing.TB, name string, args ...string) {
	t.Helper()
	h.MustDocker(t, append(append([]string{"network", "create"}, args...), name)...)
	t.Cleanup(func() {
		if _, err := h.Docker("network", "rm", name); err != nil && !strings.Contains(err.Error(), "No such network") &&
			!strings.Contains(err.Error(), "not found") {
			t.Errorf("e2e: cleanup: %v", err)
		}
	})
}

// RunContainer starts a detached container with `docker run -d args...`, removes it at the end of t, and
// returns its id. Give --name in args to address it by name.
func (h *Host) RunContainer(t testing.TB, args ...string) string {
	t.Helper()
	id := h.MustDocker(t, append([]string{"run", "-d"}, args...)...)
	t.Cleanup(func() {
		if _, err := h.Docker("rm", "-f", id); err != nil && !strings.Contains(err.Error(), "No such container") {
			t.Errorf("e2e: cleanup: %v", err)
		}
	})
	return id
}

// ContainerIP returns the IPv4 address of container on network, as Docker reports it.
func (h *Host) ContainerIP(container, network string) (string, error) {
	out, err := h.Docker("inspect", "--format", fmt.Sprintf(`{{with index .NetworkSettings.Networks %q}}{{.IPAddress}}{{end}}`, network), container)
	if err != nil {
		return "", err
	}
	ip := strings.TrimSpace(out)
	if ip == "" {
		return "", fmt.Errorf("%s: container %s has no address on network %s", h.Name, container, network)
	}
	return ip, nil
}

// Links returns the names of the network interfaces in the host's namespace.
func (h *Host) Links() ([]string, error) {
	out, err := h.Exec("ip", "-o", "link", "show")
	if err != nil {
		return nil, err
	}
	return linkNames(out), nil
}

// linkNames parses the names out of "ip -o link show".
func linkNames(out string) []string {
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 {
			names = append(names, strings.SplitN(strings.TrimSuffix(f[1], ":"), "@", 2)[0])
		}
	}
	return names
}
