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
	c := NewCluster(t, ClusterOptions{Hosts: 3, Mesh: 3})
	s := &flood{top: t, h1: c.Host(0), h2: c.Host(1), h3: c.Host(2), probe: BuildProbe(t, "flood")}
	runSteps(t, []step{
		{"Containers", s.containers},
		{"Flood", s.flood},
		{"EachDatagramOnce", s.eachDatagramOnce},
	}, "Containers", "Flood")
}

// flood is the fixture of TestBroadcastMulticast: a sender and a receiver on h1, a receiver on h2 and on h3.
type flood struct {
	top        *testing.T // the test itself, which owns bnet and the containers
	h1, h2, h3 *Host
	probe      string      // the flood probe's binary
	peers      []floodPeer // the sender first, then the receivers
	got        map[string]string
}

// floodPeer is a container of the flood scenario and its address on bnet.
type floodPeer struct {
	h        *Host
	name, ip string
}

func (s *flood) containers(t *testing.T) {
	createNetworkFor(t, s.top, s.h1, "bnet", append([]string{"--subnet", floodSubnet}, netArgs...)...)
	for _, h := range []*Host{s.h2, s.h3} {
		Eventually(t, 2*time.Minute, func() error { _, err := h.NetworkView("bnet"); return err })
	}
	for _, p := range []struct {
		h    *Host
		name string
	}{{s.h1, "sender"}, {s.h1, "recv1"}, {s.h2, "recv2"}, {s.h3, "recv3"}} {
		runFor(t, s.top, p.h, "--name", p.name, "--network", "bnet", BusyboxImage, "sleep", "3600")
		p.h.MustDocker(t, "cp", s.probe, p.name+":/flood")
		ip, err := p.h.ContainerIP(p.name, "bnet")
		if err != nil {
			t.Fatal(err)
		}
		s.peers = append(s.peers, floodPeer{p.h, p.name, ip})
	}
	// Every host must know the others' containers before flooding is meaningful.
	Eventually(t, time.Minute, func() error {
		return pingAll(s.h1, "sender", s.peers[1:], func(p floodPeer) string { return p.ip })
	})
}

// flood sends floodCount broadcast and multicast datagrams from the sender while every receiver listens.
func (s *flood) flood(t *testing.T) {
	s.got = map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, r := range s.peers[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := execIn(r.h, r.name, "/flood", "listen", FloodPort, FloodGroup, r.ip, "8")
			if err != nil {
				out += "\nerror: " + err.Error()
			}
			mu.Lock()
			s.got[r.name] = out
			mu.Unlock()
		}()
	}
	defer wg.Wait()
	time.Sleep(2 * time.Second) // the listeners join the group
	sender := s.peers[0]
	for _, dst := range []struct{ addr, prefix string }{{floodBroadcast, "bcast"}, {FloodGroup, "mcast"}} {
		if out, err := execIn(sender.h, sender.name, "/flood", "send", dst.addr, FloodPort, fmt.Sprint(floodCount), dst.prefix, sender.ip); err != nil {
			t.Fatalf("send to %s: %v %s", dst.addr, err, out)
		}
	}
}

func (s *flood) eachDatagramOnce(t *testing.T) {
	for _, r := range s.peers[1:] {
		counts := map[string]int{}
		for _, line := range strings.Split(s.got[r.name], "\n") {
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
				strings.Join(wrong, ", "), s.got[r.name])
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
