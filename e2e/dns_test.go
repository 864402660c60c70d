//go:build linux

package e2e

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

const (
	// dnsRemovalGoal is how soon a stopped container's name should leave every host's DNS.
	dnsRemovalGoal = time.Second
)

// dnsScenario is the fixture of TestDNS: three meshed hosts whose dnsd forwards to an upstream in the underlay,
// network net1 with svc1 (alias web) and dup on h1, another dup on h2, and a client on h3 that resolves
// through net1's gateway.
type dnsScenario struct {
	c                *Cluster
	h1, h2, h3       *Host
	gw               string        // net1's gateway, where dnsd answers
	svc1, dup1, dup2 string        // the addresses of svc1 and of dup on h1 and on h2
	upstreamQueries  *atomic.Int64 // how many queries the upstream got
}

// TestDNS drives the names of containers across hosts: by name and alias, one name on two hosts and its removal
// when a container stops, outside names forwarded upstream, none forwarded from an --internal network, and
// floods from containers that neither starve another network nor silence the host's gossip.
func TestDNS(t *testing.T) {
	RequirePlugin(t)
	s := &dnsScenario{}
	c := NewCluster(t, ClusterOptions{Hosts: 3, Mesh: 3, Env: upstreamDNSEnv(),
		Underlay: func(c *Cluster) { s.upstreamQueries = startUpstreamDNS(t, c) }})
	s.c, s.h1, s.h2, s.h3 = c, c.Host(0), c.Host(1), c.Host(2)
	s.setup(t)

	runSteps(t, []step{
		{"NamesAcrossHosts", s.namesAcrossHosts},
		{"SameNameOnTwoHosts", s.sameNameOnTwoHosts},
		{"Upstream", s.upstream},
		{"InternalDoesNotForward", s.internalDoesNotForward},
		{"SlowNamesStayInTheirNetwork", s.slowNamesStayInTheirNetwork},
		{"LocalFloodKeepsMembersAlive", s.localFloodKeepsMembersAlive},
	})
}

// setup creates net1 on h1, waits until the others see it, and starts the containers the steps resolve.
func (s *dnsScenario) setup(t *testing.T) {
	s.h1.CreateNetwork(t, "net1", netArgs...)
	for _, h := range []*Host{s.h2, s.h3} {
		Eventually(t, 2*time.Minute, func() error { _, err := h.NetworkView("net1"); return err })
	}
	v, err := s.h1.NetworkView("net1")
	if err != nil {
		t.Fatal(err)
	}
	s.gw = v.Gateway
	s.h1.RunContainer(t, "--name", "svc1", "--network", "net1", "--network-alias", "web", "-e", "NAME=svc1", HTTPImage)
	s.h1.RunContainer(t, "--name", "dup", "--network", "net1", "-e", "NAME=dup1", HTTPImage)
	s.h2.RunContainer(t, "--name", "dup", "--network", "net1", "-e", "NAME=dup2", HTTPImage)
	s.h3.RunContainer(t, "--name", "client", "--network", "net1", "--dns", s.gw, BusyboxImage, "sleep", "3600")
	if s.svc1, err = s.h1.ContainerIP("svc1", "net1"); err != nil {
		t.Fatal(err)
	}
	var err1, err2 error
	s.dup1, err1 = s.h1.ContainerIP("dup", "net1")
	s.dup2, err2 = s.h2.ContainerIP("dup", "net1")
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
}

func (s *dnsScenario) namesAcrossHosts(t *testing.T) {
	start := time.Now()
	for _, name := range []string{"svc1.weavego.local", "svc1"} {
		url := fmt.Sprintf("http://%s:8080/", name)
		Eventually(t, 90*time.Second, func() error { return fetch(s.h3, "client", url, hello("svc1", s.svc1)) })
	}
	t.Logf("wget svc1.weavego.local:8080 and svc1:8080 from h3 reach svc1 on h1 (%s) after %s", s.svc1,
		time.Since(start).Round(time.Millisecond))
	Eventually(t, time.Minute, func() error {
		ips, err := nslookup(s.h3, "client", "web")
		if err != nil || !slices.Equal(ips, []string{s.svc1}) {
			return fmt.Errorf("network alias web from h3: %v, %v; want [%s]", ips, err, s.svc1)
		}
		return nil
	})
}

func (s *dnsScenario) sameNameOnTwoHosts(t *testing.T) {
	both := []string{s.dup1, s.dup2}
	slices.Sort(both)
	Eventually(t, time.Minute, func() error {
		ips, err := nslookup(s.h3, "client", "dup")
		if err != nil || !slices.Equal(ips, both) {
			return fmt.Errorf("nslookup dup from h3: %v, %v; want %v", ips, err, both)
		}
		return nil
	})
	clients := map[*Host]*dnsClient{}
	for _, h := range s.c.Hosts() {
		h.RunContainer(t, "--name", "probe", "--network", "net1", BusyboxImage, "sleep", "3600")
		clients[h] = newDNSClient(t, h, "probe", s.gw)
		Eventually(t, 30*time.Second, func() error {
			ips, err := clients[h].A("dup.weavego.local")
			if err != nil || !slices.Equal(ips, both) {
				return fmt.Errorf("dup.weavego.local at %s on %s: %v, %v; want %v", s.gw, h.Name, ips, err, both)
			}
			return nil
		})
	}
	start := time.Now()
	s.h2.MustDocker(t, "stop", "dup")
	stopped := time.Since(start)
	gone := func(h *Host) func() error {
		return func() error {
			ips, err := clients[h].A("dup.weavego.local")
			if err != nil || !slices.Equal(ips, []string{s.dup1}) {
				return fmt.Errorf("dup.weavego.local at %s on %s: %v, %v; want only %s", s.gw, h.Name, ips, err, s.dup1)
			}
			return nil
		}
	}
	d3 := measure(t, start, time.Minute, gone(s.h3))
	t.Logf("DNS removal: dup on h2 (%s) left h3's answers %s after docker stop began (%s after it returned; the stop took %s)",
		s.dup2, d3.Round(time.Millisecond), (d3 - stopped).Round(time.Millisecond), stopped.Round(time.Millisecond))
	if d3-stopped > 2*dnsRemovalGoal {
		t.Errorf("a stopped container's name stayed %s in h3's DNS after docker stop returned; goal %s", d3-stopped, dnsRemovalGoal)
	}
	for _, h := range []*Host{s.h1, s.h2} {
		d := measure(t, start, time.Minute, gone(h))
		t.Logf("dup on h2 left %s's answers %s after docker stop began", h.Name, d.Round(time.Millisecond))
	}
	if ips, err := nslookup(s.h3, "client", "dup"); err != nil || !slices.Equal(ips, []string{s.dup1}) {
		t.Errorf("nslookup dup from h3 after stop: %v, %v; want [%s]", ips, err, s.dup1)
	}
}

func (s *dnsScenario) upstream(t *testing.T) {
	before := s.upstreamQueries.Load()
	Eventually(t, time.Minute, func() error {
		ips, err := nslookup(s.h3, "client", OutsideName)
		if err != nil || !slices.Equal(ips, []string{outsideAddr}) {
			return fmt.Errorf("nslookup %s from h3: %v, %v; want [%s]", OutsideName, ips, err, outsideAddr)
		}
		return nil
	})
	if s.upstreamQueries.Load() == before {
		t.Errorf("%s was answered but the upstream at %s:%d got no query", OutsideName, UnderlayGateway, upstreamPort)
	}
	ips, err := newDNSClient(t, s.h3, "client", s.gw).A(OutsideName)
	if err != nil || !slices.Equal(ips, []string{outsideAddr}) {
		t.Errorf("%s at h3's dnsd: %v, %v; want [%s]", OutsideName, ips, err, outsideAddr)
	}
	t.Logf("upstream resolver got %d queries", s.upstreamQueries.Load())
}
