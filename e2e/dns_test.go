//go:build linux

package e2e

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

const (
	upstreamPort = 5353
	outsideName  = "outside.example."
	outsideAddr  = "192.0.2.55"
	// dnsRemovalGoal is how soon a stopped container's name should leave every host's DNS.
	dnsRemovalGoal = time.Second
)

// inNetns runs f on an OS thread switched into the network namespace at path. Sockets f opens stay in that
// namespace after the thread switches back. A thread that cannot switch back is never reused.
func inNetns(path string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		target, err := os.Open(path)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %w", path, err)
			return
		}
		ferr := f()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("setns back: %w", err)) // the locked thread exits with us
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// startUpstreamDNS serves outsideName from UnderlayGateway:upstreamPort in the underlay namespace, in this
// process, and counts the queries it gets. Other names get NXDOMAIN, other types of outsideName no data.
func startUpstreamDNS(t *testing.T, c *Cluster) *atomic.Int64 {
	t.Helper()
	return serveOutsideNameIn(t, netnsDir+"/"+c.UnderlayNS, fmt.Sprintf("%s:%d", UnderlayGateway, upstreamPort))
}

// dnsClient queries a DNS server from inside a container's network namespace, over one UDP socket: dnsd
// answers only containers on its networks.
type dnsClient struct{ conn *dns.Conn }

// newDNSClient opens a client in the network namespace of container ctr on h.
func newDNSClient(t *testing.T, h *Host, ctr, server string) *dnsClient {
	t.Helper()
	sandbox, err := h.Docker("inspect", "--format", "{{.NetworkSettings.SandboxKey}}", ctr)
	if err != nil {
		t.Fatal(err)
	}
	var conn net.Conn
	if err := inNetns(strings.TrimSpace(sandbox), func() (err error) {
		conn, err = net.Dial("udp", net.JoinHostPort(server, "53"))
		return err
	}); err != nil {
		t.Fatalf("DNS client in container %s on %s: %v", ctr, h.Name, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &dnsClient{conn: &dns.Conn{Conn: conn}}
}

// A returns the A records of name.
func (c *dnsClient) A(name string) ([]string, error) {
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), dns.TypeA)
	_ = c.conn.SetDeadline(time.Now().Add(2 * time.Second))
	if err := c.conn.WriteMsg(q); err != nil {
		return nil, err
	}
	for {
		r, err := c.conn.ReadMsg()
		if err != nil {
			return nil, fmt.Errorf("query %s: %w", name, err)
		}
		if r.Id != q.Id {
			continue // a late answer to an earlier query
		}
		var ips []string
		for _, rr := range r.Answer {
			if a, ok := rr.(*dns.A); ok {
				ips = append(ips, a.A.String())
			}
		}
		slices.Sort(ips)
		return ips, nil
	}
}

// nslookup runs busybox nslookup in container ctr, with the container's own resolver, and returns the addresses it
// prints after the name.
func nslookup(h *Host, ctr, name string) ([]string, error) { return nslookupAt(h, ctr, name, "") }

func TestDNS(t *testing.T) {
	RequirePlugin(t)
	c := NewCluster(t, 3)
	upstream := startUpstreamDNS(t, c)
	wc := newWeaveClusterOn(t, c, map[string]string{"DNS_UPSTREAM": fmt.Sprintf("%s:%d", UnderlayGateway, upstreamPort)})
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
			ips, err := nslookup(h3, "client", outsideName)
			if err != nil || !slices.Equal(ips, []string{outsideAddr}) {
				return fmt.Errorf("nslookup %s from h3: %v, %v; want [%s]", outsideName, ips, err, outsideAddr)
			}
			return nil
		})
		if upstream.Load() == before {
			t.Errorf("%s was answered but the upstream at %s:%d got no query", outsideName, UnderlayGateway, upstreamPort)
		}
		ips, err := newDNSClient(t, h3, "client", gw).A(outsideName)
		if err != nil || !slices.Equal(ips, []string{outsideAddr}) {
			t.Errorf("%s at h3's dnsd: %v, %v; want [%s]", outsideName, ips, err, outsideAddr)
		}
		t.Logf("upstream resolver got %d queries", upstream.Load())
	})
}
