//go:build linux

package e2e

import (
	"encoding/json"
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
	createNetworkFor(t, t, h, name, args...)
}

// RunContainer starts a detached container with `docker run -d args...`, removes it at the end of t, and
// returns its id. Give --name in args to address it by name.
func (h *Host) RunContainer(t testing.TB, args ...string) string {
	t.Helper()
	return runFor(t, t, h, args...)
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

// runFor is RunContainer for a container that outlives the subtest t: a failure fails t, and the container is
// removed at the end of owner.
func runFor(t, owner testing.TB, h *Host, args ...string) string {
	t.Helper()
	id := h.MustDocker(t, append([]string{"run", "-d"}, args...)...)
	owner.Cleanup(func() {
		if _, err := h.Docker("rm", "-f", id); err != nil && !strings.Contains(err.Error(), "No such container") {
			owner.Errorf("e2e: cleanup: %v", err)
		}
	})
	return id
}

// createNetworkFor is CreateNetwork for a network that outlives the subtest t; it is removed at the end of owner.
func createNetworkFor(t, owner testing.TB, h *Host, name string, args ...string) {
	t.Helper()
	h.MustDocker(t, append(append([]string{"network", "create"}, args...), name)...)
	owner.Cleanup(func() {
		_, err := h.Docker("network", "rm", name)
		if err == nil || strings.Contains(err.Error(), "No such network") || strings.Contains(err.Error(), "not found") {
			return
		}
		// Say what Docker still counts on the network: the containers it lists, and every container.
		eps, _ := h.Docker("network", "inspect", "--format", "{{json .Containers}}", name)
		all, _ := h.Docker("ps", "-a", "--format", "{{.Names}} {{.Status}}")
		if staleEndpointCount(err, eps, all) {
			owner.Logf("e2e: cleanup: Docker %s refuses to remove %s for active endpoints with none listed and no "+
				"container on %s: its own endpoint count, kept apart from the endpoints, is off (see README, Tests)",
				Engine(), name, h.Name)
			return
		}
		owner.Errorf("e2e: cleanup: %v\nendpoints Docker lists on %s: %s\ncontainers on %s: %q", err, name,
			eps, h.Name, all)
	})
}

// staleEndpointCount reports the one refusal of `docker network rm` that is Docker's and not weavego's: Docker
// 20.10 checks a stored count of endpoints, not the endpoints, and after a plugin killed during a burst of
// `docker run` that count was seen at one with no endpoint and no container left. Docker 29 checks the
// endpoints themselves.
func staleEndpointCount(err error, endpoints, containers string) bool {
	return Engine() != Engine29 && strings.Contains(err.Error(), "has active endpoints") &&
		strings.TrimSpace(endpoints) == "{}" && strings.TrimSpace(containers) == ""
}

// netArgs selects weavego for both the network and its IPAM, by the full name Docker 20.10 needs.
var netArgs = []string{"-d", Driver, "--ipam-driver", Driver}

// ipamConfig is one entry of `docker network inspect` .IPAM.Config.
type ipamConfig struct {
	Subnet, Gateway, IPRange string
}

func inspectIPAM(t *testing.T, h *Host, network string) []ipamConfig {
	t.Helper()
	var cfg []ipamConfig
	out := h.MustDocker(t, "network", "inspect", "--format", "{{json .IPAM.Config}}", network)
	if err := json.Unmarshal([]byte(out), &cfg); err != nil {
		t.Fatalf("network inspect %s: %v in %q", network, err, out)
	}
	if len(cfg) == 0 {
		t.Fatalf("network %s has no IPAM config", network)
	}
	return cfg
}

// execIn runs a command in a running container on h.
func execIn(h *Host, container string, cmd ...string) (string, error) {
	return h.Docker(append([]string{"exec", container}, cmd...)...)
}

// readable fails t unless msg is an error a user can read: not empty, no Go panic or type dump.
func readable(t *testing.T, msg string) {
	t.Helper()
	for _, bad := range []string{"panic", "goroutine ", "%!", "runtime error", "&{"} {
		if strings.Contains(msg, bad) {
			t.Errorf("error is not readable (contains %q): %s", bad, msg)
		}
	}
}
