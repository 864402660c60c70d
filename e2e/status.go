//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// wgStatus is the part of the plugin's GET /status answer the tests read.
type wgStatus struct {
	Version string
	Cluster struct {
		Self, VTEP string
		Peers      []struct {
			Name, Addr, State string
			Local             bool
			Endpoints         int
		}
		Networks []struct {
			Name, Subnet, Gateway, Origin string
			VNI                           uint32
			Hosts                         []string
			Endpoints                     int
			Direct                        bool
			DirectMAC                     string
			Paths                         []struct{ Host, Addr, Path string }
		}
	}
	IPAM struct {
		Host, Range string
		Pools       []struct {
			ID    string
			Hosts []struct {
				Host              string
				Owned, Used, Free uint64
				Reachable         bool
			}
		}
		Problems []string
	}
	DNS struct {
		Domain  string
		Listen  []string
		Records int
		Stats   dnsCounters
	}
	Firewall struct {
		FromContainer, VXLANNonMember int
	}
	Engine struct {
		Version, FirewallBackend, IPForward string
	}
	Security struct {
		StreamsRefused, DatagramsDropped int
	}
	Encryption struct {
		Device, Unavailable, PublicKey string
		Port                           int
		DevicePeers                    []string
		Networks                       []string
		Peers                          []struct {
			Name, Addr, Reason, PublicKey string
			Up                            bool
			LastHandshake                 time.Time
		}
	}
}

// dnsCounters is the part of dnsd's counters the tests read.
type dnsCounters struct {
	Queries, Local, Forwarded, ServFail, OverBudget, Throttled uint64
}

// peerState returns the state h's plugin reports for the peer whose address is ip, or "" when it lists none.
func (s wgStatus) peerState(ip string) string {
	for _, p := range s.Cluster.Peers {
		host := p.Addr
		if hh, _, err := net.SplitHostPort(p.Addr); err == nil {
			host = hh
		}
		if host == ip {
			return p.State
		}
	}
	return ""
}

// Status reads the plugin's status through `weavego status --json` on h.
func (h *Host) Status() (wgStatus, error) { return h.StatusWith(weavegoBin()) }

// StatusWith is Status with the weavego command at bin (another copy than the bundle's).
func (h *Host) StatusWith(bin string) (wgStatus, error) {
	var st wgStatus
	out, err := h.Exec(bin, "--socket", h.ControlSocket(), "status", "--json")
	if err != nil {
		return st, fmt.Errorf("%s: status API: %w", h.Name, err)
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return st, fmt.Errorf("%s: status API: %w in %q", h.Name, err, out)
	}
	return st, nil
}

// mustStatus is h.Status, failing t on error.
func mustStatus(t *testing.T, h *Host) wgStatus {
	t.Helper()
	st, err := h.Status()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// weavegoBin is the weavego command, taken from the plugin bundle.
func weavegoBin() string { return filepath.Join(PluginDir(), "rootfs", "weavego") }

// ControlSocket is the host-side path of h's plugin control socket: control.sock in the plugin's state mount.
func (h *Host) ControlSocket() string { return filepath.Join(h.Dir, "plugin-state", "control.sock") }

// WeavegoCLI runs the weavego command in h's namespace, pointed at h's control socket.
func (h *Host) WeavegoCLI(args ...string) (string, error) {
	return h.Exec(append([]string{weavegoBin(), "--socket", h.ControlSocket()}, args...)...)
}

// wantPeerState waits until the `weavego status` of h shows the peer at ip in state.
func wantPeerState(t *testing.T, h *Host, ip, state string, timeout time.Duration) string {
	t.Helper()
	var out string
	Eventually(t, timeout, func() error {
		var err error
		out, err = h.WeavegoCLI("status", "peers")
		if err != nil {
			return err
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, " "+ip) && strings.Contains(line, " "+state+" ") {
				return nil
			}
		}
		return fmt.Errorf("weavego status on %s does not show %s %s:\n%s", h.Name, ip, state, out)
	})
	return out
}

// peersStatus is the part of `weavego status --json` about join targets and problems.
type peersStatus struct {
	JoinTargets []string
	Problems    []struct{ What, Fix string }
}

func (h *Host) peersStatus() (peersStatus, error) {
	var st peersStatus
	out, err := h.WeavegoCLI("status", "--json")
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return st, fmt.Errorf("%s: status: %v", h.Name, err)
	}
	return st, nil
}

// waitPeer waits until h sees the peer at ip in state.
func waitPeer(t *testing.T, h *Host, ip, state string, within time.Duration) {
	t.Helper()
	Eventually(t, within, func() error {
		st, err := h.Status()
		if err != nil {
			return err
		}
		if s := st.peerState(ip); s != state {
			return fmt.Errorf("%s sees %s as %q, want %q", h.Name, ip, s, state)
		}
		return nil
	})
}
