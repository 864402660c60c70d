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

// weaveCluster is a Cluster whose hosts all run the plugin, joined into one mesh.
type weaveCluster struct {
	*Cluster
	// Peer is each host's peer name in the mesh (the name errors and `weavego status` use).
	Peer map[*Host]string
}

// newWeaveCluster brings up n hosts, installs the plugin on each with PEERS naming every other host (plus env),
// and waits until every host sees all n peers alive.
func newWeaveCluster(t *testing.T, n int, env map[string]string) *weaveCluster {
	t.Helper()
	return newWeaveClusterOn(t, NewCluster(t, n), env)
}

// newWeaveClusterOn is newWeaveCluster on hosts already up (for tests that start underlay servers first).
func newWeaveClusterOn(t *testing.T, c *Cluster, env map[string]string) *weaveCluster {
	t.Helper()
	return meshHosts(t, c, c.Hosts(), env)
}

// meshHosts installs the plugin on hosts, the cluster key and PEERS naming every other one of them (plus env),
// and waits until each of them sees all of them alive. Other hosts of c are left alone.
func meshHosts(t *testing.T, c *Cluster, hosts []*Host, env map[string]string) *weaveCluster {
	t.Helper()
	start := time.Now()
	key := newClusterKey(t)
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
	wc := &weaveCluster{Cluster: c, Peer: map[*Host]string{}}
	Eventually(t, 2*time.Minute, func() error {
		for _, h := range hosts {
			st, err := h.Status()
			if err != nil {
				return err
			}
			wc.Peer[h] = st.Cluster.Self
			for _, o := range hosts {
				if s := st.peerState(o.IP.String()); s != "alive" {
					return fmt.Errorf("%s sees %s as %q", h.Name, o.Name, s)
				}
			}
		}
		return nil
	})
	t.Logf("plugins enabled and meshed (%d peers) in %s", len(hosts), time.Since(start).Round(100*time.Millisecond))
	return wc
}

// newClusterKey returns a fresh cluster key (base64 of 32 random bytes), as `weavego key generate` prints.
func newClusterKey(t testing.TB) string {
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
