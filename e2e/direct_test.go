//go:build linux

package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestDirect: a network created with -o direct carries unicast between containers of hosts on one underlay
// segment without VXLAN. A client on h2 fetches a marker from a server on h1 by name while every frame of the
// underlay is captured: the marker crosses as plain IPv4 between the container addresses, from h1's published
// macvlan MAC to h2's, never inside VXLAN; the same fetch on a plain network crosses inside VXLAN (so the
// capture can tell). Broadcast still reaches the other host (over VXLAN), containers on all three hosts ping
// each other by name, status shows the direct path per peer, and the plain and the direct network cannot
// reach each other.
func TestDirect(t *testing.T) {
	RequirePlugin(t)
	c := NewCluster(t, ClusterOptions{Hosts: 3, Mesh: 3})
	h1, h2, h3 := c.Host(0), c.Host(1), c.Host(2)
	probe := BuildProbe(t, "flood")
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	dMarker, pMarker := "DIRECT-MARKER-"+hex.EncodeToString(suffix), "PLAIN-MARKER-"+hex.EncodeToString(suffix)

	h1.CreateNetwork(t, "dnet", append(append([]string{}, netArgs...), "--subnet", "10.64.0.0/24", "-o", "direct")...)
	h1.CreateNetwork(t, "pnet", append(append([]string{}, netArgs...), "--subnet", "10.65.0.0/24")...)
	waitNetwork(t, "dnet", h2, h3)
	waitNetwork(t, "pnet", h2, h3)
	runFor(t, t, h1, "--name", "dsrv", "--network", "dnet", "-e", "NAME="+dMarker, HTTPImage)
	runFor(t, t, h1, "--name", "psrv", "--network", "pnet", "-e", "NAME="+pMarker, HTTPImage)
	for _, r := range []struct {
		h          *Host
		name, netw string
	}{{h2, "dcli", "dnet"}, {h2, "pcli", "pnet"}, {h3, "dthird", "dnet"}, {h1, "drecv", "dnet"}} {
		runFor(t, t, r.h, "--name", r.name, "--network", r.netw, "--dns", DNSServiceAddr, BusyboxImage, "sleep", "3600")
	}
	ip := func(h *Host, ctr, netw string) string {
		t.Helper()
		a, err := h.ContainerIP(ctr, netw)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	dsrvIP, dcliIP, psrvIP := ip(h1, "dsrv", "dnet"), ip(h2, "dcli", "dnet"), ip(h1, "psrv", "pnet")

	var mac1, mac2 string
	t.Run("StatusShowsDirectPaths", func(t *testing.T) {
		Eventually(t, time.Minute, func() error {
			var err error
			if mac1, err = directPathTo(h1, "dnet", h2.IP.String()); err != nil {
				return err
			}
			mac2, err = directPathTo(h2, "dnet", h1.IP.String())
			return err
		})
		if out, err := h1.WeavegoCLI("status", "networks"); err != nil || !strings.Contains(out, "direct network dnet") {
			t.Errorf("weavego status networks on h1: %q, %v; want the direct network's paths", out, err)
		} else {
			t.Logf("weavego status networks on h1:\n%s", out)
		}
	})

	t.Run("ByName", func(t *testing.T) {
		Eventually(t, time.Minute, func() error {
			for _, p := range []struct {
				h        *Host
				from, to string
			}{{h2, "dcli", "dsrv"}, {h3, "dthird", "dsrv"}, {h1, "drecv", "dcli"}, {h2, "dcli", "dthird"}} {
				if out, err := execIn(p.h, p.from, "ping", "-c", "2", "-W", "2", p.to); err != nil {
					return fmt.Errorf("ping %s from %s: %v %s", p.to, p.from, err, out)
				}
			}
			return fetch(h2, "dcli", "http://dsrv:8080/", dMarker)
		})
	})

	t.Run("UnicastIsNotVXLAN", func(t *testing.T) {
		cp, err := c.StartCapture([]string{dMarker, pMarker}, plainVXLANPort)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if err := fetch(h2, "dcli", fmt.Sprintf("http://%s:8080/", dsrvIP), dMarker); err != nil {
				t.Error(err)
			}
			if err := fetch(h2, "pcli", fmt.Sprintf("http://%s:8080/", psrvIP), pMarker); err != nil {
				t.Error(err)
			}
		}
		time.Sleep(500 * time.Millisecond) // the last frames reach the socket
		counts, err := cp.Stop()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("underlay capture: %d frames; markers %v; plain frames with a marker %v; VXLAN by VNI %v",
			counts.Frames, counts.Marker, counts.Plain, counts.VNI[plainVXLANPort])
		want := fmt.Sprintf("%s %s %s > %s %s", dMarker, mac1, dsrvIP, mac2, dcliIP)
		if counts.Plain[want] == 0 || counts.Plain[want] != counts.Marker[dMarker] {
			t.Errorf("the direct network's marker crossed in %d frames, %d of them plain IPv4 %q: want all of them",
				counts.Marker[dMarker], counts.Plain[want], want)
		}
		if counts.Marker[pMarker] == 0 {
			t.Errorf("the plain network's marker never appeared on the underlay: the capture sees nothing")
		}
		for k := range counts.Plain {
			if strings.HasPrefix(k, pMarker) {
				t.Errorf("the plain network's marker crossed outside VXLAN: %s", k)
			}
		}
		if n := counts.VNI[plainVXLANPort][networkVNI(t, h1, "pnet")]; n == 0 {
			t.Errorf("no VXLAN datagram of the plain network crossed the underlay")
		}
	})

	t.Run("BroadcastStillCrosses", func(t *testing.T) {
		h2.MustDocker(t, "cp", probe, "dcli:/flood")
		h1.MustDocker(t, "cp", probe, "drecv:/flood")
		drecvIP := ip(h1, "drecv", "dnet")
		done := make(chan string, 1)
		go func() {
			out, err := execIn(h1, "drecv", "/flood", "listen", FloodPort, FloodGroup, drecvIP, "8")
			if err != nil {
				out += "\nerror: " + err.Error()
			}
			done <- out
		}()
		time.Sleep(2 * time.Second)
		if out, err := execIn(h2, "dcli", "/flood", "send", "10.64.0.255", FloodPort, "3", "bcast", dcliIP); err != nil {
			t.Fatalf("send broadcast: %v %s", err, out)
		}
		if out := <-done; !strings.Contains(out, "bcast-0") {
			t.Errorf("drecv on h1 did not get the broadcast from dcli on h2: %q", out)
		}
	})

	t.Run("PluginDisableEnable", func(t *testing.T) {
		// Disabling parks h1's networks (the macvlan goes, its remotes go back to VXLAN); enabling brings
		// the macvlan back with the same MAC, and the direct path with it.
		h1.MustDocker(t, "plugin", "disable", "-f", PluginName)
		h1.MustDocker(t, "plugin", "enable", PluginName)
		Eventually(t, 2*time.Minute, func() error {
			mac, err := directPathTo(h1, "dnet", h2.IP.String())
			if err != nil {
				return err
			}
			if mac != mac1 {
				return fmt.Errorf("h1's macvlan MAC %s after the restart, want %s as before", mac, mac1)
			}
			if _, err := directPathTo(h2, "dnet", h1.IP.String()); err != nil {
				return err
			}
			return fetch(h2, "dcli", fmt.Sprintf("http://%s:8080/", dsrvIP), dMarker)
		})
	})

	t.Run("RefusedWithEncrypted", func(t *testing.T) {
		_, err := h2.Docker(append(append([]string{"network", "create"}, netArgs...), "--subnet", "10.66.0.0/24",
			"-o", "direct", "-o", "encrypted", "both")...)
		if err == nil {
			h2.MustDocker(t, "network", "rm", "both")
			t.Fatal("docker network create -o direct -o encrypted was accepted")
		}
		if !strings.Contains(err.Error(), "a network cannot be both direct and encrypted") {
			t.Errorf("docker network create -o direct -o encrypted: %v; want the sentence about direct and encrypted", err)
		}
		readable(t, err.Error())
	})

	t.Run("PlainAndDirectIsolated", func(t *testing.T) {
		unreachable(t, h2, "dcli", psrvIP, "the plain network")
		unreachable(t, h2, "pcli", dsrvIP, "the direct network")
	})
}

// directPathTo returns the macvlan MAC h publishes for direct network netw, once h's status lists the path to
// the peer at address peer as direct.
func directPathTo(h *Host, netw, peer string) (string, error) {
	st, err := h.Status()
	if err != nil {
		return "", err
	}
	for _, n := range st.Cluster.Networks {
		if n.Name != netw {
			continue
		}
		if !n.Direct || n.DirectMAC == "" {
			return "", fmt.Errorf("%s: network %s not direct (direct %v, MAC %q)", h.Name, netw, n.Direct, n.DirectMAC)
		}
		for _, p := range n.Paths {
			if p.Addr == peer && p.Path == "direct" {
				return n.DirectMAC, nil
			}
		}
		return "", fmt.Errorf("%s: network %s paths %+v: want direct to %s", h.Name, netw, n.Paths, peer)
	}
	return "", fmt.Errorf("%s: no network %s in status", h.Name, netw)
}
