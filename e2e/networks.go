//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// What a host's Docker and plugin say of one network: whether it exists, why it stayed after a removal, and
// whether any endpoint is left on it.

// hasNetwork tells whether network name exists on h.
func hasNetwork(h *Host, name string) bool {
	_, err := h.Docker("network", "inspect", "--format", "{{.Id}}", name)
	return err == nil
}

// keptReason returns what h's `weavego status --json` says of why network name stayed after a removal there.
func keptReason(h *Host, name string) (string, error) {
	out, err := h.WeavegoCLI("status", "--json")
	if err != nil {
		return "", err
	}
	var st struct {
		Cluster struct{ Networks []struct{ Name, Kept string } }
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return "", fmt.Errorf("%s: status JSON: %w", h.Name, err)
	}
	for _, n := range st.Cluster.Networks {
		if n.Name == name {
			return n.Kept, nil
		}
	}
	return "", fmt.Errorf("%s: status lists no network %s", h.Name, name)
}

// noEndpoints returns an error while h's status counts endpoints on network name.
func noEndpoints(h *Host, name string) error {
	st, err := h.Status()
	if err != nil {
		return err
	}
	for _, n := range st.Cluster.Networks {
		if n.Name == name && n.Endpoints != 0 {
			return fmt.Errorf("%s still sees %d endpoints on %s", h.Name, n.Endpoints, name)
		}
	}
	return nil
}

// waitNetwork waits up to a minute on each of hosts in turn until network name exists there.
func waitNetwork(t *testing.T, name string, hosts ...*Host) {
	t.Helper()
	for _, h := range hosts {
		Eventually(t, time.Minute, func() error {
			if !hasNetwork(h, name) {
				return fmt.Errorf("%s not on %s yet", name, h.Name)
			}
			return nil
		})
	}
}
