//go:build linux

package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// Broadcast and multicast cross hosts by head-end replication: the VXLAN device copies each such frame to every
// other host of the network. Each receiver must get each datagram exactly once, on every host.
const (
	floodSubnet    = "10.77.0.0/24"
	floodBroadcast = "10.77.0.255"
	floodCount     = 5
)

func TestBroadcastMulticast(t *testing.T) {
	RequirePlugin(t)
	wc := NewCluster(t, ClusterOptions{Hosts: 3, Mesh: 3})
	h1, h2, h3 := wc.Host(0), wc.Host(1), wc.Host(2)
	h1.CreateNetwork(t, "bnet", append([]string{"--subnet", floodSubnet}, netArgs...)...)
	for _, h := range []*Host{h2, h3} {
		Eventually(t, 2*time.Minute, func() error { _, err := h.NetworkView("bnet"); return err })
	}
	probe := BuildProbe(t, "flood")
	type peer struct {
		h        *Host
		name, ip string
	}
	var peers []peer
	for _, p := range []struct {
		h    *Host
		name string
	}{{h1, "sender"}, {h1, "recv1"}, {h2, "recv2"}, {h3, "recv3"}} {
		p.h.RunContainer(t, "--name", p.name, "--network", "bnet", BusyboxImage, "sleep", "3600")
		p.h.MustDocker(t, "cp", probe, p.name+":/flood")
		ip, err := p.h.ContainerIP(p.name, "bnet")
		if err != nil {
			t.Fatal(err)
		}
		peers = append(peers, peer{p.h, p.name, ip})
	}
	// Every host must know the others' containers before flooding is meaningful.
	Eventually(t, time.Minute, func() error { return pingAll(peers[0].h, "sender", peers[1:], func(p peer) string { return p.ip }) })

	got := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, r := range peers[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := execIn(r.h, r.name, "/flood", "listen", FloodPort, FloodGroup, r.ip, "8")
			if err != nil {
				out += "\nerror: " + err.Error()
			}
			mu.Lock()
			got[r.name] = out
			mu.Unlock()
		}()
	}
	time.Sleep(2 * time.Second) // the listeners join the group
	s := peers[0]
	for _, dst := range []struct{ addr, prefix string }{{floodBroadcast, "bcast"}, {FloodGroup, "mcast"}} {
		if out, err := execIn(s.h, s.name, "/flood", "send", dst.addr, FloodPort, fmt.Sprint(floodCount), dst.prefix, s.ip); err != nil {
			t.Fatalf("send to %s: %v %s", dst.addr, err, out)
		}
	}
	wg.Wait()
	for _, r := range peers[1:] {
		counts := map[string]int{}
		for _, line := range strings.Split(got[r.name], "\n") {
			counts[strings.TrimSpace(line)]++
		}
		var wrong []string
		for _, prefix := range []string{"bcast", "mcast"} {
			for i := range floodCount {
				if n := counts[fmt.Sprintf("%s-%d", prefix, i)]; n != 1 {
					wrong = append(wrong, fmt.Sprintf("%s-%d x%d", prefix, i, n))
				}
			}
		}
		if len(wrong) > 0 {
			t.Errorf("%s on %s: want each datagram once, got %s\noutput:\n%s", r.name, r.h.Name,
				strings.Join(wrong, ", "), got[r.name])
			continue
		}
		t.Logf("%s on %s got each of %d broadcast and %d multicast datagrams exactly once", r.name, r.h.Name,
			floodCount, floodCount)
	}
}

// pingAll checks that ctr on h reaches every peer's address by ping.
func pingAll[P any](h *Host, ctr string, peers []P, ip func(P) string) error {
	for _, p := range peers {
		if out, err := execIn(h, ctr, "ping", "-c", "1", "-W", "2", ip(p)); err != nil {
			return fmt.Errorf("ping %s from %s: %v %s", ip(p), ctr, err, out)
		}
	}
	return nil
}
