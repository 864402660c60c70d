//go:build linux

package e2e

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// previousRelease is the commit of the release before the mesh's format 3 (write identities and the replay
// rule): it writes format 1 and speaks delegate protocol 1/1/1. TestRollingUpgrade builds it from this
// checkout's history (or from the tree upgradeFromEnv names).
const previousRelease = "46612c6a533b46e7fadee3817e8c4ce8360b41dc"

// replayTTL is the tombstone lifetime of the rolling-upgrade cluster: short, so that the replay case can wait
// until the tombstones of what it deleted are forgotten everywhere (two lifetimes and the reaping periods).
const replayTTL = 20 * time.Second

// rolling is a three-host cluster moved from the previous release to this one, one host at a time.
type rolling struct {
	c     *Cluster
	hosts []*Host
	ref   map[string]string  // version -> image reference in the registry
	ctr   map[*Host][]string // containers on each host, all on net1
}

// TestRollingUpgrade installs the previous release on three hosts with a network, containers and names, then
// upgrades them one at a time; after each step every host reaches and resolves every container, and a
// container started on an upgraded host and one on a host not yet upgraded are seen by all. With two hosts
// upgraded, an encrypted network is created: the upgraded hosts carry it, the host of the previous release
// (which knows no encryption) never builds it, in clear or otherwise, and joins it once upgraded. At the end, with
// every host upgraded, it records the gossip h1 sends h2 while a container comes and goes, waits until its
// tombstones are forgotten everywhere, replays the recording from h1's address, and checks that nothing
// comes back.
func TestRollingUpgrade(t *testing.T) {
	RequirePlugin(t)
	oldTree := os.Getenv(upgradeFromEnv)
	if oldTree == "" {
		oldTree = previousReleaseTree(t)
		grantTUN(t, oldTree)
	}
	c := NewCluster(t, ClusterOptions{Hosts: 3})
	reg := c.StartRegistry(t)
	r := &rolling{c: c, hosts: c.Hosts(), ref: map[string]string{}, ctr: map[*Host][]string{}}
	start := time.Now()
	for v, root := range map[string]string{"e2e-old": oldTree, "e2e-new": RepoRoot()} {
		r.ref[v] = reg + "/weavego:" + v
		if err := r.hosts[0].PushPluginFrom(root, filepath.Join(t.TempDir(), v), r.ref[v], v); err != nil {
			t.Fatalf("make push of %s from %s: %v", v, root, err)
		}
	}
	t.Logf("built and pushed the previous release (%s) and this tree in %s", oldTree, time.Since(start).Round(time.Second))
	r.install(t)
	r.hosts[0].CreateNetwork(t, "net1", netArgs...)
	for i, h := range r.hosts {
		Eventually(t, time.Minute, func() error {
			_, err := h.Docker("network", "inspect", "net1")
			return err
		})
		r.run(t, h, fmt.Sprintf("c%d", i+1))
	}
	r.wantAll(t, "previous release on every host")
	var enc map[*Host]string // containers on the encrypted network, from the second upgrade on
	for i, h := range r.hosts {
		start := time.Now()
		if err := h.UpgradePlugin(r.ref["e2e-new"]); err != nil {
			t.Fatalf("upgrade %s: %v", h.Name, err)
		}
		r.wantVersion(t, h, "e2e-new")
		r.wantAll(t, fmt.Sprintf("%s upgraded in %s", h.Name, time.Since(start).Round(100*time.Millisecond)))
		// A new entry on an upgraded host and one on the next host (not yet upgraded, or the first one).
		r.run(t, h, fmt.Sprintf("u%d", i+1))
		r.run(t, r.hosts[(i+1)%len(r.hosts)], fmt.Sprintf("o%d", i+1))
		r.wantAll(t, fmt.Sprintf("new containers after %s's upgrade", h.Name))
		switch i {
		case 1: // two hosts upgraded, the last one of the previous release
			if hasTUN(oldTree) {
				enc = r.createEncrypted(t, r.hosts[:2], r.hosts[2])
			} else {
				t.Logf("the previous release's bundle in %s grants no TUN device, which docker plugin upgrade "+
					"keeps: no encrypted network in this run", oldTree)
			}
		case 2:
			if enc != nil {
				r.joinEncrypted(t, h, enc)
			}
		}
	}
	r.replay(t)
}

// previousReleaseTree extracts previousRelease from this checkout's git history into a temporary directory.
func previousReleaseTree(t *testing.T) string {
	t.Helper()
	root := RepoRoot()
	if _, err := Run(time.Minute, "git", "-C", root, "cat-file", "-e", previousRelease+"^{commit}"); err != nil {
		t.Skipf("the previous release (commit %s) is not in this checkout's history (a shallow clone?): "+
			"fetch it, or set %s to its source tree", previousRelease[:12], upgradeFromEnv)
	}
	dir := t.TempDir()
	if _, err := Run(2*time.Minute, "sh", "-c", fmt.Sprintf("git -C %q archive %s | tar -x -C %q",
		root, previousRelease, dir)); err != nil {
		t.Fatalf("extract the previous release: %v", err)
	}
	return dir
}

// install installs the previous release on every host, each naming the others in PEERS, with one key.
func (r *rolling) install(t *testing.T) {
	key := NewClusterKey(t)
	errs := make(chan error, len(r.hosts))
	for _, h := range r.hosts {
		var peers []string
		for _, o := range r.hosts {
			if o != h {
				peers = append(peers, o.IP.String())
			}
		}
		go func() {
			errs <- h.InstallPluginFromRegistry(r.ref["e2e-old"], map[string]string{"PEERS": strings.Join(peers, ","),
				"KEY": key, "TOMBSTONE_TTL": replayTTL.String()})
		}()
	}
	for range r.hosts {
		if err := <-errs; err != nil {
			t.Fatalf("docker plugin install: %v", err)
		}
	}
	Eventually(t, 2*time.Minute, func() error {
		for _, h := range r.hosts {
			st, err := h.Status()
			if err != nil {
				return err
			}
			for _, o := range r.hosts {
				if o != h && st.peerState(o.IP.String()) != "alive" {
					return fmt.Errorf("%s sees %s as %q", h.Name, o.Name, st.peerState(o.IP.String()))
				}
			}
		}
		return nil
	})
	for _, h := range r.hosts {
		r.wantVersion(t, h, "e2e-old")
	}
}

func (r *rolling) wantVersion(t *testing.T, h *Host, version string) {
	t.Helper()
	Eventually(t, time.Minute, func() error {
		st, err := h.Status()
		if err != nil {
			return err
		}
		if st.Version != version {
			return fmt.Errorf("%s runs %q, want %q", h.Name, st.Version, version)
		}
		return nil
	})
}

// run starts container name on h, on net1.
func (r *rolling) run(t *testing.T, h *Host, name string) {
	t.Helper()
	h.RunContainer(t, "--name", name, "--network", "net1", "--dns", dnsService, BusyboxImage, "sleep", "3600")
	r.ctr[h] = append(r.ctr[h], name)
}

// wantAll checks, within a minute, that the first container of each host pings every container of the other
// hosts by address and resolves its name to that address.
func (r *rolling) wantAll(t *testing.T, stage string) {
	t.Helper()
	start := time.Now()
	ips := map[string]string{}
	for h, names := range r.ctr {
		for _, n := range names {
			ip, err := h.ContainerIP(n, "net1")
			if err != nil {
				t.Fatalf("%s: %v", stage, err)
			}
			ips[n] = ip
		}
	}
	for _, from := range r.hosts {
		src := r.ctr[from][0]
		for _, to := range r.hosts {
			if to == from {
				continue
			}
			for _, n := range r.ctr[to] {
				Eventually(t, time.Minute, func() error {
					if out, err := execIn(from, src, "ping", "-c", "1", "-W", "2", ips[n]); err != nil {
						return fmt.Errorf("%s: ping %s (%s) from %s on %s: %v %s", stage, n, ips[n], src, from.Name, err, out)
					}
					got, err := nslookup(from, src, n)
					if err != nil || !slices.Equal(got, []string{ips[n]}) {
						return fmt.Errorf("%s: %s on %s resolves %s to %v (%v), want %s", stage, src, from.Name, n, got, err, ips[n])
					}
					return nil
				})
			}
		}
	}
	t.Logf("%s: every host reaches and resolves every container of the others (%d containers, %s)", stage,
		len(ips), time.Since(start).Round(100*time.Millisecond))
}

// replay records the gossip h1 sends h2 while container ghost is started on h1 and removed, waits until the
// tombstones are forgotten everywhere, sends the recording again from h1's address, and checks that h2 does
// not bring ghost back.
func (r *rolling) replay(t *testing.T) {
	h1, h2 := r.hosts[0], r.hosts[1]
	src := r.ctr[h2][0]
	tape, err := recordGossip(h2, h1.IP)
	if err != nil {
		t.Fatal(err)
	}
	h1.RunContainer(t, "--name", "ghost", "--network", "net1", "--dns", dnsService, BusyboxImage, "sleep", "3600")
	Eventually(t, time.Minute, func() error {
		if ips, err := nslookup(h2, src, "ghost"); err != nil || len(ips) != 1 {
			return fmt.Errorf("h2 resolves ghost to %v (%v)", ips, err)
		}
		return nil
	})
	// At least one push/pull that h1 starts with h2 (every 10 s, with one of its two peers) while ghost exists:
	// a recorded stream to replay. Within 90 s all but certain.
	Eventually(t, 90*time.Second, func() error {
		if tape.streamBytes() == 0 {
			return errors.New("no stream from h1 to h2 recorded yet")
		}
		return nil
	})
	time.Sleep(2 * time.Second) // the stream's last segments
	h1.MustDocker(t, "rm", "-f", "ghost")
	Eventually(t, time.Minute, func() error {
		if ips, err := nslookup(h2, src, "ghost"); err != nil || len(ips) != 0 {
			return fmt.Errorf("h2 still resolves ghost to %v (%v)", ips, err)
		}
		return nil
	})
	datagrams, streams := tape.stop()
	streamBytes := 0
	for _, s := range streams {
		streamBytes += len(s)
	}
	if len(datagrams) == 0 || streamBytes == 0 {
		t.Fatalf("recorded %d datagrams and %d streams (%d bytes) from h1 to h2: nothing to replay",
			len(datagrams), len(streams), streamBytes)
	}
	wait := 2*replayTTL + 2*replayTTL/10 + 5*time.Second
	t.Logf("recorded %d datagrams and %d streams (%d bytes) from h1 to h2; waiting %s until ghost's tombstones are "+
		"forgotten everywhere", len(datagrams), len(streams), streamBytes, wait)
	time.Sleep(wait)
	before := mustStatus(t, h2)
	sentD, sentS, err := replayGossip(h1, h2, datagrams, streams)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second)
	for _, h := range r.hosts {
		if ips, err := nslookup(h, r.ctr[h][0], "ghost"); err != nil || len(ips) != 0 {
			t.Errorf("after the replay %s resolves ghost, deleted before it, to %v (%v)", h.Name, ips, err)
		}
	}
	after := mustStatus(t, h2)
	if after.DNS.Records != before.DNS.Records {
		t.Errorf("h2 held %d names before the replay and %d after", before.DNS.Records, after.DNS.Records)
	}
	t.Logf("replayed %d datagrams and %d streams from h1's address to h2: ghost stays deleted, h2 holds %d names "+
		"as before", sentD, sentS, after.DNS.Records)
	r.wantAll(t, "after the replay")
}
