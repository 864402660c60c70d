//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

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

// TestConnectForget: two hosts with the same KEY and no PEERS join with `weavego connect`, the peer stays joined
// across a plugin restart, `weavego forget` drops it, and `weavego status` then says what is wrong when the other
// host becomes unreachable.
func TestConnectForget(t *testing.T) {
	RequirePlugin(t)
	c := NewCluster(t, ClusterOptions{Hosts: 2})
	h1, h2 := c.Host(0), c.Host(1)
	key := NewClusterKey(t)
	for _, h := range c.Hosts() {
		if err := h.InstallPlugin(map[string]string{"KEY": key}); err != nil {
			t.Fatal(err)
		}
	}
	if st, err := h1.Status(); err != nil || st.peerState(h2.IP.String()) != "" {
		t.Fatalf("before connect, h1 sees h2 as %q (%v)", st.peerState(h2.IP.String()), err)
	}
	target := h2.IP.String() + ":6783"

	out, err := h1.WeavegoCLI("connect", h2.IP.String())
	if err != nil || !strings.Contains(out, "connected to "+target) {
		t.Fatalf("weavego connect %s: %q, %v", h2.IP, out, err)
	}
	waitPeer(t, h1, h2.IP.String(), "alive", 30*time.Second)
	waitPeer(t, h2, h1.IP.String(), "alive", 30*time.Second)
	t.Logf("weavego connect: %s", strings.TrimSpace(out))

	old, err := h1.KillPlugin()
	if err != nil {
		t.Fatal(err)
	}
	back := waitPluginBack(t, h1, old, 2*time.Minute)
	waitPeer(t, h1, h2.IP.String(), "alive", time.Minute)
	st, err := h1.peersStatus()
	if err != nil || !slices.Contains(st.JoinTargets, target) {
		t.Fatalf("after a restart, h1's join targets are %v (%v); want %s kept", st.JoinTargets, err, target)
	}
	t.Logf("plugin on h1 killed and back in %s; it joined %s again from its saved peers", back.Round(time.Millisecond), target)

	out, err = h1.WeavegoCLI("forget", h2.IP.String())
	if err != nil || !strings.Contains(out, "forgot "+target) {
		t.Fatalf("weavego forget %s: %q, %v", h2.IP, out, err)
	}
	if st, err = h1.peersStatus(); err != nil || len(st.JoinTargets) != 0 {
		t.Fatalf("after forget, h1's join targets are %v (%v)", st.JoinTargets, err)
	}
	if out, err = h1.WeavegoCLI("forget", h2.IP.String()); err == nil {
		t.Errorf("a second forget succeeded: %q", out)
	}

	if err := h2.CutUnderlay(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h2.RestoreUnderlay() })
	Eventually(t, time.Minute, func() error {
		out, err := h1.WeavegoCLI("status")
		if err != nil {
			return err
		}
		if !strings.Contains(out, "is unreachable since") || !strings.Contains(out, "weavego rmpeer") {
			return fmt.Errorf("h1's weavego status does not say h2 is unreachable:\n%s", out)
		}
		return nil
	})
	out, _ = h1.WeavegoCLI("status", "problems")
	t.Logf("weavego status problems on h1 with h2 cut off:\n%s", out)
}
