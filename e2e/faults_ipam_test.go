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
	wc := NewCluster(t, ClusterOptions{Hosts: 3, Mesh: 3})
	h1, h2, h3 := wc.Host(0), wc.Host(1), wc.Host(2)
	hosts := []*Host{h1, h2, h3}
	start := time.Now()
	h1.CreateNetwork(t, "net1", netArgs...)
	v, err := h1.NetworkView("net1")
	if err != nil {
		t.Fatal(err)
	}
	reserves := map[*Host]uint64{}
	d := measure(t, start, 2*time.Minute, func() error {
		for _, h := range []*Host{h2, h3} {
			if _, err := h.NetworkView("net1"); err != nil {
				return err
			}
			r, _, err := ipamReserveOf(h, v.Subnet, wc.Peer[h])
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

	if err := h1.CutUnderlay(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h1.RestoreUnderlay() })
	wantPeerState(t, h2, h1.IP.String(), "dead", time.Minute)
	wantPeerState(t, h1, h2.IP.String(), "dead", time.Minute)
	names := map[string]*Host{}
	for _, h := range hosts {
		var slowest time.Duration
		for i := range 3 {
			name := fmt.Sprintf("cut-%s-%d", h.Name, i)
			s := time.Now()
			h.RunContainer(t, "--name", name, "--network", "net1", "-e", "NAME="+name, HTTPImage)
			slowest = max(slowest, time.Since(s))
			names[name] = h
		}
		t.Logf("%s started 3 containers on net1 while h1 was cut off (slowest docker run %s)", h.Name, slowest.Round(time.Millisecond))
	}

	heal := time.Now()
	if err := h1.RestoreUnderlay(); err != nil {
		t.Fatal(err)
	}
	wantPeerState(t, h1, h2.IP.String(), "alive", 2*time.Minute)
	wantPeerState(t, h2, h1.IP.String(), "alive", 2*time.Minute)
	ips := map[string]string{}
	owner := map[string]string{}
	for name, h := range names {
		ip, err := h.ContainerIP(name, "net1")
		if err != nil {
			t.Fatal(err)
		}
		if other, dup := owner[ip]; dup {
			t.Errorf("address %s given to %s and %s", ip, other, name)
		}
		owner[ip], ips[name] = name, ip
	}
	pairs := [][2]string{{"cut-h2-0", "cut-h1-0"}, {"cut-h1-1", "cut-h3-1"}, {"cut-h3-2", "cut-h2-2"}}
	for _, p := range pairs {
		from, to := p[0], p[1]
		url := fmt.Sprintf("http://%s:8080/", ips[to])
		d := measure(t, heal, 2*time.Minute, func() error { return fetch(names[from], from, url, hello(to, ips[to])) })
		t.Logf("%s on %s reaches %s (%s) on %s %s after the heal", from, names[from].Name, to, ips[to], names[to].Name, d.Round(time.Millisecond))
	}
	for _, h := range hosts {
		if _, pr, err := ipamReserveOf(h, v.Subnet, wc.Peer[h]); err != nil || len(pr) > 0 {
			t.Errorf("%s after the heal: problems %q, %v", h.Name, strings.Join(pr, "; "), err)
		}
	}
}
