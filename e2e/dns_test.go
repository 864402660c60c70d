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

func TestDNS(t *testing.T) {
	RequirePlugin(t)
	var upstream *atomic.Int64
	wc := NewCluster(t, ClusterOptions{Hosts: 3, Mesh: 3, Env: upstreamDNSEnv(),
		Underlay: func(c *Cluster) { upstream = startUpstreamDNS(t, c) }})
	h1, h2, h3 := wc.Host(0), wc.Host(1), wc.Host(2)
	h1.CreateNetwork(t, "net1", netArgs...)
	for _, h := range []*Host{h2, h3} {
		Eventually(t, 2*time.Minute, func() error { _, err := h.NetworkView("net1"); return err })
	}
	v, err := h1.NetworkView("net1")
	if err != nil {
		t.Fatal(err)
	}
	gw := v.Gateway
	h1.RunContainer(t, "--name", "svc1", "--network", "net1", "--network-alias", "web", "-e", "NAME=svc1", HTTPImage)
	h1.RunContainer(t, "--name", "dup", "--network", "net1", "-e", "NAME=dup1", HTTPImage)
	h2.RunContainer(t, "--name", "dup", "--network", "net1", "-e", "NAME=dup2", HTTPImage)
	h3.RunContainer(t, "--name", "client", "--network", "net1", "--dns", gw, BusyboxImage, "sleep", "3600")
	svc1, err := h1.ContainerIP("svc1", "net1")
	if err != nil {
		t.Fatal(err)
	}
	dup1, err1 := h1.ContainerIP("dup", "net1")
	dup2, err2 := h2.ContainerIP("dup", "net1")
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}

	t.Run("NamesAcrossHosts", func(t *testing.T) {
		start := time.Now()
		for _, name := range []string{"svc1.weavego.local", "svc1"} {
			url := fmt.Sprintf("http://%s:8080/", name)
			Eventually(t, 90*time.Second, func() error { return fetch(h3, "client", url, hello("svc1", svc1)) })
		}
		t.Logf("wget svc1.weavego.local:8080 and svc1:8080 from h3 reach svc1 on h1 (%s) after %s", svc1,
			time.Since(start).Round(time.Millisecond))
		Eventually(t, time.Minute, func() error {
			ips, err := nslookup(h3, "client", "web")
			if err != nil || !slices.Equal(ips, []string{svc1}) {
				return fmt.Errorf("network alias web from h3: %v, %v; want [%s]", ips, err, svc1)
			}
			return nil
		})
	})

	t.Run("SameNameOnTwoHosts", func(t *testing.T) {
		both := []string{dup1, dup2}
		slices.Sort(both)
		Eventually(t, time.Minute, func() error {
			ips, err := nslookup(h3, "client", "dup")
			if err != nil || !slices.Equal(ips, both) {
				return fmt.Errorf("nslookup dup from h3: %v, %v; want %v", ips, err, both)
			}
			return nil
		})
		clients := map[*Host]*dnsClient{}
		for _, h := range wc.Hosts() {
			h.RunContainer(t, "--name", "probe", "--network", "net1", BusyboxImage, "sleep", "3600")
			clients[h] = newDNSClient(t, h, "probe", gw)
			Eventually(t, 30*time.Second, func() error {
				ips, err := clients[h].A("dup.weavego.local")
				if err != nil || !slices.Equal(ips, both) {
					return fmt.Errorf("dup.weavego.local at %s on %s: %v, %v; want %v", gw, h.Name, ips, err, both)
				}
				return nil
			})
		}
		start := time.Now()
		h2.MustDocker(t, "stop", "dup")
		stopped := time.Since(start)
		gone := func(h *Host) func() error {
			return func() error {
				ips, err := clients[h].A("dup.weavego.local")
				if err != nil || !slices.Equal(ips, []string{dup1}) {
					return fmt.Errorf("dup.weavego.local at %s on %s: %v, %v; want only %s", gw, h.Name, ips, err, dup1)
				}
				return nil
			}
		}
		d3 := measure(t, start, time.Minute, gone(h3))
		t.Logf("DNS removal: dup on h2 (%s) left h3's answers %s after docker stop began (%s after it returned; the stop took %s)",
			dup2, d3.Round(time.Millisecond), (d3 - stopped).Round(time.Millisecond), stopped.Round(time.Millisecond))
		if d3-stopped > 2*dnsRemovalGoal {
			t.Errorf("a stopped container's name stayed %s in h3's DNS after docker stop returned; goal %s", d3-stopped, dnsRemovalGoal)
		}
		for _, h := range []*Host{h1, h2} {
			d := measure(t, start, time.Minute, gone(h))
			t.Logf("dup on h2 left %s's answers %s after docker stop began", h.Name, d.Round(time.Millisecond))
		}
		if ips, err := nslookup(h3, "client", "dup"); err != nil || !slices.Equal(ips, []string{dup1}) {
			t.Errorf("nslookup dup from h3 after stop: %v, %v; want [%s]", ips, err, dup1)
		}
	})

	t.Run("Upstream", func(t *testing.T) {
		before := upstream.Load()
		Eventually(t, time.Minute, func() error {
			ips, err := nslookup(h3, "client", OutsideName)
			if err != nil || !slices.Equal(ips, []string{outsideAddr}) {
				return fmt.Errorf("nslookup %s from h3: %v, %v; want [%s]", OutsideName, ips, err, outsideAddr)
			}
			return nil
		})
		if upstream.Load() == before {
			t.Errorf("%s was answered but the upstream at %s:%d got no query", OutsideName, UnderlayGateway, upstreamPort)
		}
		ips, err := newDNSClient(t, h3, "client", gw).A(OutsideName)
		if err != nil || !slices.Equal(ips, []string{outsideAddr}) {
			t.Errorf("%s at h3's dnsd: %v, %v; want [%s]", OutsideName, ips, err, outsideAddr)
		}
		t.Logf("upstream resolver got %d queries", upstream.Load())
	})
}
