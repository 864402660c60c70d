//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// ipamReserves is the part of `weavego status --json` that shows each host's reserve per pool.
type ipamReserves struct {
	IPAM struct {
		Pools []struct {
			ID    string
			Hosts []struct {
				Host    string
				Reserve uint64
			}
		}
		Problems []string
	}
}

// ipamReserveOf returns the free addresses host peer holds in pool, as h's plugin reports it.
func ipamReserveOf(h *Host, pool, peer string) (uint64, []string, error) {
	out, err := h.WeavegoCLI("status", "--json")
	if err != nil {
		return 0, nil, fmt.Errorf("%s: status: %w", h.Name, err)
	}
	var st ipamReserves
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return 0, nil, fmt.Errorf("%s: status: %v in %q", h.Name, err, out)
	}
	for _, p := range st.IPAM.Pools {
		for _, s := range p.Hosts {
			if p.ID == pool && s.Host == peer {
				return s.Reserve, st.IPAM.Problems, nil
			}
		}
	}
	return 0, st.IPAM.Problems, fmt.Errorf("%s: status lists no share of %s in pool %s", h.Name, peer, pool)
}

// TestFaultsPartitionIPAM is issue 11's scenario: net1 created on h1, then h1 cut off from h2 and h3 on the
// underlay. Every host, the majority included, holds a reserve of net1's space before its first container, so
// all of them keep starting containers while cut off; after the heal no address is used twice and containers
// on different hosts reach each other.
func TestFaultsPartitionIPAM(t *testing.T) {
	RequirePlugin(t)
	c := NewCluster(t, ClusterOptions{Hosts: 3, Mesh: 3})
	s := &partitionIPAM{top: t, c: c, h1: c.Host(0), h2: c.Host(1), h3: c.Host(2), names: map[string]*Host{}}
	runSteps(t, []step{
		{"ReservesBeforeFirstContainer", s.reserves},
		{"StartWhileCut", s.startWhileCut},
		{"HealNoAddressTwice", s.heal},
		{"ReachAfterHeal", s.reachAfterHeal},
		{"NoProblems", s.noProblems},
	}, "ReservesBeforeFirstContainer", "StartWhileCut", "HealNoAddressTwice")
}

// partitionIPAM is the fixture of TestFaultsPartitionIPAM.
type partitionIPAM struct {
	top        *testing.T // the test itself, which owns the containers and h1's cut
	c          *Cluster
	h1, h2, h3 *Host
	subnet     string
	names      map[string]*Host  // containers started while h1 was cut off -> their host
	ips        map[string]string // their addresses after the heal
	healed     time.Time         // when h1's underlay came back
}

// reserves: every host holds a reserve of net1's space before its first container.
func (s *partitionIPAM) reserves(t *testing.T) {
	h1, h2, h3 := s.h1, s.h2, s.h3
	start := time.Now()
	createNetworkFor(t, s.top, h1, "net1", netArgs...)
	v, err := h1.NetworkView("net1")
	if err != nil {
		t.Fatal(err)
	}
	s.subnet = v.Subnet
	reserves := map[*Host]uint64{}
	d := measure(t, start, 2*time.Minute, func() error {
		for _, h := range []*Host{h2, h3} {
			if _, err := h.NetworkView("net1"); err != nil {
				return err
			}
			r, _, err := ipamReserveOf(h, v.Subnet, s.c.Peer[h])
			if err != nil {
				return err
			}
			if r < 3 {
				return fmt.Errorf("%s holds a reserve of %d addresses in %s, want at least 3", h.Name, r, v.Subnet)
			}
			reserves[h] = r
		}
		return nil
	})
	t.Logf("net1 (%s) on h2 and h3 with reserves %d and %d addresses %s after its creation on h1",
		v.Subnet, reserves[h2], reserves[h3], d.Round(time.Millisecond))
	if out, err := h2.WeavegoCLI("status", "ipam"); err == nil {
		t.Logf("weavego status ipam on h2 before the cut:\n%s", out)
	}
}

// startWhileCut: h1 cut off from h2 and h3, every host starts 3 containers.
func (s *partitionIPAM) startWhileCut(t *testing.T) {
	h1, h2 := s.h1, s.h2
	if err := h1.CutUnderlay(); err != nil {
		t.Fatal(err)
	}
	s.top.Cleanup(func() { _ = h1.RestoreUnderlay() })
	wantPeerState(t, h2, h1.IP.String(), "dead", time.Minute)
	wantPeerState(t, h1, h2.IP.String(), "dead", time.Minute)
	for _, h := range s.c.Hosts() {
		var slowest time.Duration
		for i := range 3 {
			name := fmt.Sprintf("cut-%s-%d", h.Name, i)
			start := time.Now()
			runFor(t, s.top, h, "--name", name, "--network", "net1", "-e", "NAME="+name, HTTPImage)
			slowest = max(slowest, time.Since(start))
			s.names[name] = h
		}
		t.Logf("%s started 3 containers on net1 while h1 was cut off (slowest docker run %s)", h.Name, slowest.Round(time.Millisecond))
	}
}

// heal: h1's underlay back, the hosts see each other again and no address was given twice.
func (s *partitionIPAM) heal(t *testing.T) {
	h1, h2 := s.h1, s.h2
	s.healed = time.Now()
	if err := h1.RestoreUnderlay(); err != nil {
		t.Fatal(err)
	}
	wantPeerState(t, h1, h2.IP.String(), "alive", 2*time.Minute)
	wantPeerState(t, h2, h1.IP.String(), "alive", 2*time.Minute)
	s.ips = map[string]string{}
	owner := map[string]string{}
	for name, h := range s.names {
		ip, err := h.ContainerIP(name, "net1")
		if err != nil {
			t.Fatal(err)
		}
		if other, dup := owner[ip]; dup {
			t.Errorf("address %s given to %s and %s", ip, other, name)
		}
		owner[ip], s.ips[name] = name, ip
	}
}

// reachAfterHeal: containers started on different sides of the cut reach each other.
func (s *partitionIPAM) reachAfterHeal(t *testing.T) {
	pairs := [][2]string{{"cut-h2-0", "cut-h1-0"}, {"cut-h1-1", "cut-h3-1"}, {"cut-h3-2", "cut-h2-2"}}
	for _, p := range pairs {
		from, to := p[0], p[1]
		url := fmt.Sprintf("http://%s:8080/", s.ips[to])
		d := measure(t, s.healed, 2*time.Minute, func() error { return fetch(s.names[from], from, url, hello(to, s.ips[to])) })
		t.Logf("%s on %s reaches %s (%s) on %s %s after the heal", from, s.names[from].Name, to, s.ips[to], s.names[to].Name, d.Round(time.Millisecond))
	}
}

func (s *partitionIPAM) noProblems(t *testing.T) {
	for _, h := range s.c.Hosts() {
		if _, pr, err := ipamReserveOf(h, s.subnet, s.c.Peer[h]); err != nil || len(pr) > 0 {
			t.Errorf("%s after the heal: problems %q, %v", h.Name, strings.Join(pr, "; "), err)
		}
	}
}
