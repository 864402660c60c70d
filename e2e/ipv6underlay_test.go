//go:build linux

package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestIPv6Underlay runs a cluster whose hosts reach each other only over IPv6 (ClusterOptions.IPv6Underlay): PEERS
// and ADVERTISE_ADDR are IPv6 addresses, the gossip and VXLAN cross the underlay over IPv6, and an IPv4 network
// works across it: containers on two hosts reach each other by name (ping and HTTP), the network's MTU is the
// underlay's 1500 less VXLAN over IPv6 (70), and VXLAN over IPv6 from h3, which is no member, is dropped. On top of
// it, a dual-stack network carries IPv6 between containers and an encrypted network crosses only inside WireGuard
// over IPv6, with an MTU of 1350; last, a host advertising IPv4 joins and is named as of the other family.
func TestIPv6Underlay(t *testing.T) {
	RequirePlugin(t)
	start := time.Now()
	c := NewCluster(t, ClusterOptions{Hosts: 3, Mesh: 2, IPv6Underlay: true})
	h1, h2, h3 := c.Host(0), c.Host(1), c.Host(2)
	t.Logf("two hosts meshed over IPv6 (%s, %s) after %s", h1.IP, h2.IP, time.Since(start).Round(100*time.Millisecond))
	for _, h := range []*Host{h1, h2} {
		if !strings.Contains(h.IP.String(), ":") {
			t.Fatalf("%s has underlay address %s, want IPv6", h.Name, h.IP)
		}
		if out, err := h.Exec("ip", "-4", "addr", "show", "dev", "eth0"); err != nil || strings.Contains(out, "inet ") {
			t.Fatalf("%s: eth0 holds IPv4: %q, %v", h.Name, out, err)
		}
		// The join targets (PEERS, IPv6) are recognised as the members they are: weavego status has nothing to say.
		if st, err := h.peersStatus(); err != nil || len(st.Problems) > 0 {
			t.Errorf("%s: weavego status lists problems %+v (%v)", h.Name, st.Problems, err)
		}
	}

	createNetworkFor(t, t, h1, "net1", netArgs...)
	waitNetwork(t, "net1", h2)
	v, err := h1.NetworkView("net1")
	if err != nil {
		t.Fatal(err)
	}
	runFor(t, t, h1, "--name", "svc", "--network", "net1", "-e", "NAME=svc", HTTPImage)
	runFor(t, t, h2, "--name", "client", "--network", "net1", "--dns", v.Gateway, BusyboxImage, "sleep", "3600")
	svc, err := h1.ContainerIP("svc", "net1")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("MTU", func(t *testing.T) {
		for _, ctr := range []struct {
			h    *Host
			name string
		}{{h1, "svc"}, {h2, "client"}} {
			out, err := execIn(ctr.h, ctr.name, "cat", "/sys/class/net/eth0/mtu")
			if err != nil || strings.TrimSpace(out) != "1430" {
				t.Errorf("%s: %s's eth0 has MTU %q (%v), want 1430 (1500 less 70 for VXLAN over IPv6)", ctr.h.Name, ctr.name, out, err)
			}
		}
	})

	t.Run("Connectivity", func(t *testing.T) {
		cp, err := c.StartCapture(nil, vxlanPort)
		if err != nil {
			t.Fatal(err)
		}
		begin := time.Now()
		Eventually(t, time.Minute, func() error {
			return fetch(h2, "client", "http://svc:8080/", hello("svc", svc))
		})
		t.Logf("HTTP by name from client (h2) to svc (h1) answered after %s", time.Since(begin).Round(time.Millisecond))
		out, err := execIn(h2, "client", "ping", "-c", "3", "-W", "2", "svc")
		if err != nil || !strings.Contains(out, " 0% packet loss") {
			t.Errorf("ping svc from client on h2: %q, %v", out, err)
		}
		counts, err := cp.Stop()
		if err != nil {
			t.Fatal(err)
		}
		if counts.UDP[vxlanPort] == 0 || counts.UDP6 < counts.UDP[vxlanPort] {
			t.Errorf("the underlay carried %d VXLAN datagrams, %d UDP datagrams over IPv6 in all; want VXLAN, all over IPv6",
				counts.UDP[vxlanPort], counts.UDP6)
		}
		t.Logf("the underlay carried %d VXLAN datagrams (UDP over IPv6: %d)", counts.UDP[vxlanPort], counts.UDP6)
	})

	t.Run("Stranger", func(t *testing.T) {
		before := vxlanDrops(t, h1)
		frame := make([]byte, 8+64) // VXLAN header (I flag, VNI 1) and a junk frame
		frame[0] = 0x08
		frame[6] = 1
		sendUDP(t, h3, h1.IP.String(), vxlanPort, 10, frame)
		Eventually(t, 10*time.Second, func() error {
			if d := vxlanDrops(t, h1) - before; d < 10 {
				return fmt.Errorf("h1 counted %d VXLAN datagrams over IPv6 from the stranger h3 as dropped; want 10", d)
			}
			return nil
		})
	})

	t.Run("DualStack", func(t *testing.T) { httpOverIPv6(t, h1, h2, "net6", "--ipv6") })

	t.Run("Encrypted", func(t *testing.T) {
		suffix := make([]byte, 6)
		_, _ = rand.Read(suffix)
		marker := "ENC6-MARKER-" + hex.EncodeToString(suffix)
		createNetworkFor(t, t, h1, "encnet", append(append([]string{}, netArgs...), "-o", "encrypted")...)
		waitNetwork(t, "encnet", h2)
		vni := networkVNI(t, h1, "encnet")
		runFor(t, t, h1, "--name", "encsrv", "--network", "encnet", "-e", "NAME="+marker, HTTPImage)
		runFor(t, t, h2, "--name", "encclient", "--network", "encnet", BusyboxImage, "sleep", "3600")
		encIP, err := h1.ContainerIP("encsrv", "encnet")
		if err != nil {
			t.Fatal(err)
		}
		cp, err := c.StartCapture([]string{marker}, plainVXLANPort, encryptedVXLANPort)
		if err != nil {
			t.Fatal(err)
		}
		begin := time.Now()
		wantBody(t, h2, "encclient", fmt.Sprintf("http://%s:8080/", encIP), marker)
		t.Logf("h2 fetched the marker from h1 over the encrypted network after %s", time.Since(begin).Round(time.Millisecond))
		time.Sleep(500 * time.Millisecond) // the last frames reach the socket
		counts, err := cp.Stop()
		if err != nil {
			t.Fatal(err)
		}
		neverInClear(t, counts, marker, vni)
		if counts.UDP[wireGuardPort] == 0 || counts.UDP6 < counts.UDP[wireGuardPort] {
			t.Errorf("%d WireGuard datagrams (udp/%d) crossed the underlay, %d UDP datagrams over IPv6 in all; want WireGuard, over IPv6",
				counts.UDP[wireGuardPort], wireGuardPort, counts.UDP6)
		}
		// 1500 less WireGuard over IPv6 (80) less VXLAN over IPv6 (70) inside it.
		if mtu, err := execIn(h2, "encclient", "cat", "/sys/class/net/eth0/mtu"); err != nil || strings.TrimSpace(mtu) != "1350" {
			t.Errorf("encclient's eth0 has MTU %q (%v), want 1350", mtu, err)
		}
		t.Logf("WireGuard datagrams over IPv6: %d", counts.UDP[wireGuardPort])
	})

	t.Run("IPv6Only", func(t *testing.T) {
		if Engine() == Engine2010 {
			t.Skip("Docker 20.10 has no --ipv4=false")
		}
		httpOverIPv6(t, h1, h2, "net6o", "--ipv6", "--ipv4=false")
	})

	// MixedFamilies: h3, which also has an IPv4 address on the underlay (as do h1 and h2 now, so that the gossip
	// crosses), joins advertising it. Its VXLAN could not reach the others' IPv6 VTEPs: every host's weavego status
	// names the other family's host with the fix, and h3's log says why it skips the others' endpoints.
	t.Run("MixedFamilies", func(t *testing.T) {
		v4 := map[*Host]netip.Addr{}
		for _, h := range []*Host{h1, h2, h3} {
			v4[h] = AddrAt(UnderlayPrefix, underlayLinkStart+h.index)
			if _, err := h.Exec("ip", "addr", "add", fmt.Sprintf("%s/%d", v4[h], UnderlayPrefix.Bits()), "dev", "eth0"); err != nil {
				t.Fatal(err)
			}
		}
		key, err := h1.WeavegoCLI("token")
		if err != nil {
			t.Fatal(err)
		}
		if err := h3.InstallPlugin(map[string]string{"PEERS": h1.IP.String(), "KEY": strings.TrimSpace(key),
			"ADVERTISE_ADDR": v4[h3].String()}); err != nil {
			t.Fatal(err)
		}
		waitPeer(t, h1, v4[h3].String(), "alive", 2*time.Minute)
		for _, w := range []struct {
			h    *Host
			want string
		}{{h1, fmt.Sprintf("advertises %s and this host %s", v4[h3], h1.IP)}, {h3, fmt.Sprintf("advertises %s and this host %s", h1.IP, v4[h3])}} {
			Eventually(t, 30*time.Second, func() error {
				st, err := w.h.peersStatus()
				if err != nil {
					return err
				}
				for _, p := range st.Problems {
					if strings.Contains(p.What, w.want) && strings.Contains(p.Fix, "ADVERTISE_ADDR") {
						return nil
					}
				}
				return fmt.Errorf("%s: weavego status lists %+v, want a problem with %q", w.h.Name, st.Problems, w.want)
			})
		}
		Eventually(t, time.Minute, func() error {
			if logs := strings.Join(h3.PluginLogs(), "\n"); !strings.Contains(logs, "VXLAN cannot cross between IPv4 and IPv6") {
				return fmt.Errorf("h3's log does not say why it skips the IPv6 hosts' endpoints")
			}
			return nil
		})
	})
}

// httpOverIPv6 creates network name with args on h1, starts a web server there and a client on h2, and fetches from
// the server at its IPv6 address.
func httpOverIPv6(t *testing.T, h1, h2 *Host, name string, args ...string) {
	createNetworkFor(t, t, h1, name, append(append([]string{}, netArgs...), args...)...)
	waitNetwork(t, name, h2)
	svc, client := "svc-"+name, "client-"+name
	runFor(t, t, h1, "--name", svc, "--network", name, "-e", "NAME="+svc, HTTPImage)
	runFor(t, t, h2, "--name", client, "--network", name, BusyboxImage, "sleep", "3600")
	ip6 := ipv6Of(t, h1, svc, name)
	Eventually(t, time.Minute, func() error {
		return fetch(h2, client, fmt.Sprintf("http://[%s]:8080/", ip6), "Hi! I'm "+svc+" service")
	})
}
