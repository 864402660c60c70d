//go:build linux

package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"
)

// meshHosts installs the plugin on hosts, the cluster key and PEERS naming every other one of them (plus env),
// waits until each of them sees all of them alive, and records their peer names in c.Peer. Other hosts of c are
// left alone.
func meshHosts(t testing.TB, c *Cluster, hosts []*Host, env map[string]string) {
	t.Helper()
	start := time.Now()
	key := NewClusterKey(t)
	errs := make(chan error, len(hosts))
	for _, h := range hosts {
		go func() {
			var peers []string
			for _, o := range hosts {
				if o != h {
					peers = append(peers, o.IP.String())
				}
			}
			e := map[string]string{"PEERS": strings.Join(peers, ","), "KEY": key}
			for k, v := range env {
				e[k] = v
			}
			if err := h.InstallPlugin(e); err != nil {
				errs <- fmt.Errorf("%s: %w", h.Name, err)
				return
			}
			errs <- nil
		}()
	}
	for range hosts {
		if err := <-errs; err != nil {
			t.Fatalf("install plugins: %v", err)
		}
	}
	Eventually(t, 2*time.Minute, func() error {
		for _, h := range hosts {
			st, err := h.Status()
			if err != nil {
				return err
			}
			c.Peer[h] = st.Cluster.Self
			for _, o := range hosts {
				if s := st.peerState(o.IP.String()); s != "alive" {
					return fmt.Errorf("%s sees %s as %q", h.Name, o.Name, s)
				}
			}
		}
		return nil
	})
	t.Logf("plugins enabled and meshed (%d peers) in %s", len(hosts), time.Since(start).Round(100*time.Millisecond))
}

// NewClusterKey returns a fresh cluster key (base64 of 32 random bytes), as `weavego key generate` prints.
func NewClusterKey(t testing.TB) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// failureBound is how long the tests allow for a host failure to be seen: memberlist's detection (~5 s) with
// slack for a shared two-core machine.
const failureBound = 20 * time.Second
