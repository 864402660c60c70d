//go:build linux

package e2e

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// Bounds of the host crash case.
const (
	// crashDropBound: after a host's plugin dies, the others drop its containers' FDB entries (failure
	// detection, ~5 s, with slack for a shared machine).
	crashDropBound = failureBound
	// crashBackBound: after containerd and dockerd are started again, a --restart always container is back with
	// its address, reachable from the other hosts, and their FDB entries for it are back.
	crashBackBound = 90 * time.Second
)

// killContainerd kills the host's containerd with SIGKILL, as a crash would. The shims it started live on.
func (h *Host) killContainerd() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.containerd == nil || !h.containerd.running() {
		return nil
	}
	return h.containerd.kill("")
}

// net1VXLAN returns the name of h's VXLAN device of net1 ("wgx-" + the network ID[:11]).
func net1VXLAN(h *Host) (string, error) {
	out, err := h.Docker("network", "inspect", "--format", "{{.Id}}", "net1")
	if id := strings.TrimSpace(out); err != nil || len(id) < 11 {
		return "", fmt.Errorf("%s: id of net1 %q: %v", h.Name, id, err)
	}
	return "wgx-" + strings.TrimSpace(out)[:11], nil
}

// fdbTo returns an error unless h's VXLAN device of net1 has an FDB entry for mac with destination dst.
func fdbTo(h *Host, mac, dst string) error {
	dev, err := net1VXLAN(h)
	if err != nil {
		return err
	}
	fdb, err := h.FDB(dev)
	if err != nil {
		return err
	}
	if !slices.Contains(fdb[mac], dst) {
		return fmt.Errorf("%s %s: no FDB entry %s dst %s", h.Name, dev, mac, dst)
	}
	return nil
}

// noFDBTo returns an error while h's VXLAN device of net1 has any FDB entry with destination dst.
func noFDBTo(h *Host, dst string) error {
	dev, err := net1VXLAN(h)
	if err != nil {
		return err
	}
	fdb, err := h.FDB(dev)
	if err != nil {
		return err
	}
	for mac, dsts := range fdb {
		if mac != "00:00:00:00:00:00" && slices.Contains(dsts, dst) {
			return fmt.Errorf("%s %s still has FDB entry %s dst %s", h.Name, dev, mac, dst)
		}
	}
	return nil
}

// crashHost kills h's plugin, dockerd and containerd with SIGKILL.
func crashHost(h *Host) error {
	_, perr := h.KillPlugin()
	return errors.Join(perr, h.KillDocker(), h.killContainerd())
}

// TestFaultsHostCrash: on 3 hosts, h3's plugin, dockerd and containerd are killed with -9 and started again.
// The others drop the FDB entries of h3's container while it is down and get them back after; the container,
// started with --restart always, comes back with its address and is reachable from both other hosts. (The
// container's shim survives the kill of containerd; dockerd, without live-restore, stops the container when it
// starts and then restarts it, releasing its address and asking for one with no preference: the allocator hands
// back the address released last, see ipalloc/handback.go.)
func TestFaultsHostCrash(t *testing.T) {
	RequirePlugin(t)
	wc := NewCluster(t, ClusterOptions{Hosts: 3, Mesh: 3})
	h1, h2, h3 := wc.Host(0), wc.Host(1), wc.Host(2)
	h1.MustDocker(t, append(append([]string{"network", "create"}, netArgs...), "--subnet", "10.58.0.0/24", "net1")...)
	for _, h := range []*Host{h2, h3} {
		Eventually(t, time.Minute, func() error {
			if !hasNetwork(h, "net1") {
				return fmt.Errorf("net1 not on %s yet", h.Name)
			}
			return nil
		})
	}
	h1.RunContainer(t, "--network", "net1", "--name", "c1", BusyboxImage, "sleep", "36000")
	h2.RunContainer(t, "--network", "net1", "--name", "c2", BusyboxImage, "sleep", "36000")
	h3.RunContainer(t, "--network", "net1", "--name", "s3", "--restart", "always", BusyboxImage, "sleep", "36000")
	ip3, err := h3.ContainerIP("s3", "net1")
	if err != nil {
		t.Fatal(err)
	}
	// Docker 29 names the endpoint in its address requests, so several containers each get theirs back; 20.10
	// names nothing, and one container per network gets its own (ipalloc/handback.go).
	restarted := map[string]string{"s3": ip3}
	if Engine() == Engine29 {
		h3.RunContainer(t, "--network", "net1", "--name", "t3", "--restart", "always", BusyboxImage, "sleep", "36000")
		if restarted["t3"], err = h3.ContainerIP("t3", "net1"); err != nil {
			t.Fatal(err)
		}
	}
	mac3, err := h3.ContainerMAC("s3", ip3)
	if err != nil {
		t.Fatal(err)
	}
	vtep3 := h3.IP.String()
	others := []*Host{h1, h2}
	client := map[*Host]string{h1: "c1", h2: "c2"}
	for _, h := range others {
		Eventually(t, time.Minute, func() error { return fdbTo(h, mac3, vtep3) })
		Eventually(t, time.Minute, func() error { _, err := execIn(h, client[h], "ping", "-c1", "-W1", ip3); return err })
	}

	start := time.Now()
	if err := crashHost(h3); err != nil {
		t.Fatal(err)
	}
	var drop time.Duration
	for _, h := range others {
		d := measure(t, start, 2*time.Minute, func() error { return noFDBTo(h, vtep3) })
		t.Logf("h3 crashed: %s dropped its FDB entries for h3 after %s", h.Name, faultFigure(d))
		drop = max(drop, d)
	}

	back := time.Now()
	if err := h3.startContainerd(); err != nil {
		t.Fatal(err)
	}
	if err := h3.StartDocker(); err != nil {
		t.Fatal(err)
	}
	ready := time.Since(back)
	var mac, ip string
	d := measure(t, back, crashBackBound+time.Minute, func() error {
		var err error
		if ip, err = h3.ContainerIP("s3", "net1"); err != nil {
			return err
		}
		if mac, err = h3.ContainerMAC("s3", ip); err != nil {
			return err
		}
		for _, h := range others {
			if err := fdbTo(h, mac, vtep3); err != nil {
				return err
			}
			if _, err := execIn(h, client[h], "ping", "-c1", "-W1", ip); err != nil {
				return err
			}
		}
		return nil
	})
	t.Logf("h3's containerd and dockerd started again: s3 back at %s (was %s; MAC %s, was %s), in the FDB of h1 and h2 "+
		"and reachable from both %s after the restart began (%s of it for dockerd to answer)", ip, ip3, mac, mac3,
		faultFigure(d), faultFigure(ready))
	same := true
	for name, was := range restarted {
		now := ip
		if name != "s3" {
			Eventually(t, time.Minute, func() error { now, err = h3.ContainerIP(name, "net1"); return err })
			t.Logf("%s back at %s (was %s)", name, now, was)
		}
		if now != was {
			t.Errorf("%s came back with %s, had %s", name, now, was)
			same = false
		}
	}
	if drop > crashDropBound {
		t.Errorf("the others dropped h3's FDB entries after %s; want within %s", drop, crashDropBound)
	}
	if d > crashBackBound {
		t.Errorf("s3 back and reachable after %s; want within %s", d, crashBackBound)
	}
	reportFault(t, faultRow{Case: "host crash: kill -9 of dockerd, containerd and the plugin, then restart",
		Bound: "others drop its FDB entries within " + crashDropBound.String() + "; --restart always container back " +
			"with its address, in the others' FDB and reachable within " + crashBackBound.String() + " of the restart",
		Measured: fmt.Sprintf("FDB entries gone after %s; back and reachable %s after the restart", faultFigure(drop), faultFigure(d)),
		Pass:     drop <= crashDropBound && d <= crashBackBound && same})
}
