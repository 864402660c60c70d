//go:build linux

package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Ports of the plugin's defaults that the capture looks at.
const (
	plainVXLANPort     = 4789
	encryptedVXLANPort = 4790
	wireGuardPort      = 6784
)

// TestEncrypted proves on the wire that an encrypted network's traffic never crosses the underlay in clear:
// a service on h1 answers a marker over TCP to a client on h2, on an encrypted network and on a plain one,
// while every frame of the underlay is captured. The plain network's marker is seen (the capture works), the
// encrypted one's never, nor any plain VXLAN of the encrypted network's VNI; WireGuard carries it. h3 is a
// member that cannot encrypt (its plugin has no TUN device and the kernel no WireGuard): it refuses the
// encrypted network with a sentence, says why in its status, and gets none of its traffic. A wireguard-go peer
// on the underlay with a key that is no member's gets no handshake and nothing into the network.
func TestEncrypted(t *testing.T) {
	RequirePlugin(t)
	c := NewCluster(t, ClusterOptions{Hosts: 3, Mesh: 2})
	h1, h2, h3 := c.Host(0), c.Host(1), c.Host(2)
	joinWithoutTUN(t, c, h3)

	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	encMarker, plainMarker := "ENC-MARKER-"+hex.EncodeToString(suffix), "PLAIN-MARKER-"+hex.EncodeToString(suffix)

	h1.CreateNetwork(t, "encnet", append(append([]string{}, netArgs...), "--subnet", "10.61.0.0/24", "-o", "encrypted")...)
	h1.CreateNetwork(t, "plainnet", append(append([]string{}, netArgs...), "--subnet", "10.62.0.0/24")...)
	vni := networkVNI(t, h1, "encnet")
	Eventually(t, time.Minute, func() error {
		for _, n := range []string{"encnet", "plainnet"} {
			if _, err := h2.NetworkView(n); err != nil {
				return err
			}
		}
		return nil
	})
	runFor(t, t, h1, "--name", "encsrv", "--network", "encnet", "-e", "NAME="+encMarker, HTTPImage)
	runFor(t, t, h1, "--name", "plainsrv", "--network", "plainnet", "-e", "NAME="+plainMarker, HTTPImage)
	runFor(t, t, h2, "--name", "encclient", "--network", "encnet", BusyboxImage, "sleep", "3600")
	runFor(t, t, h2, "--name", "plainclient", "--network", "plainnet", BusyboxImage, "sleep", "3600")
	encIP, err := h1.ContainerIP("encsrv", "encnet")
	if err != nil {
		t.Fatal(err)
	}
	plainIP, err := h1.ContainerIP("plainsrv", "plainnet")
	if err != nil {
		t.Fatal(err)
	}

	cp, err := c.StartCapture([]string{encMarker, plainMarker}, plainVXLANPort, encryptedVXLANPort)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	wantBody(t, h2, "encclient", fmt.Sprintf("http://%s:8080/", encIP), encMarker)
	t.Logf("h2 fetched the marker from h1 over the encrypted network after %s", time.Since(start).Round(time.Millisecond))
	for range 5 {
		if err := fetch(h2, "encclient", fmt.Sprintf("http://%s:8080/", encIP), encMarker); err != nil {
			t.Error(err)
		}
	}
	wantBody(t, h2, "plainclient", fmt.Sprintf("http://%s:8080/", plainIP), plainMarker)
	time.Sleep(500 * time.Millisecond) // the last frames reach the socket
	counts, err := cp.Stop()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("underlay capture: %d frames; markers %v; UDP datagrams by port %v; VXLAN by port and VNI %v",
		counts.Frames, counts.Marker, counts.UDP, counts.VNI)
	if counts.Marker[plainMarker] == 0 {
		t.Errorf("the plain network's marker never appeared on the underlay: the capture sees nothing, so it proves nothing")
	}
	neverInClear(t, counts, encMarker, vni)
	if counts.UDP[wireGuardPort] == 0 {
		t.Errorf("no WireGuard datagram (udp/%d) crossed the underlay while the encrypted network carried traffic", wireGuardPort)
	}

	t.Run("StatusShowsEncryptedPath", func(t *testing.T) {
		Eventually(t, 30*time.Second, func() error {
			st, err := h1.Status()
			if err != nil {
				return err
			}
			e := st.Encryption
			if e.Device == "" || e.PublicKey == "" || e.Port != wireGuardPort {
				return fmt.Errorf("h1 encryption status %+v: want a device, a key and port %d", e, wireGuardPort)
			}
			for _, p := range e.Peers {
				if p.Addr == h2.IP.String() && p.Up && !p.LastHandshake.IsZero() {
					return nil
				}
			}
			return fmt.Errorf("h1 does not list h2 with an encrypted path up: %+v", e.Peers)
		})
		out, err := h1.WeavegoCLI("status", "encryption")
		if err != nil || !strings.Contains(out, "encnet") || !strings.Contains(out, " up ") {
			t.Errorf("weavego status encryption on h1: %q, %v; want encnet and a path up", out, err)
		}
		t.Logf("weavego status encryption on h1:\n%s", out)
	})

	if os.Getenv("WEAVEGO_ENC_BENCH") == "1" {
		t.Run("Throughput", func(t *testing.T) {
			// Interleaved, 1 TCP stream, 5 s each: the encrypted network against the plain one and issue 21's
			// reference, a hand-built wireguard-go tunnel between the same two hosts' namespaces.
			refIP := referenceTunnel(t, h1, h2)
			for i := range 3 {
				stop := profilePlugins(t, i, h1, h2)
				enc := iperfGbps(t, h1, "encsrv", h2, "encclient", encIP)
				stop()
				plain := iperfGbps(t, h1, "plainsrv", h2, "plainclient", plainIP)
				ref := iperfNS(t, h1.NSPath(), h2.NSPath(), refIP)
				t.Logf("repetition %d: encrypted %.2f Gbit/s, plain %.2f Gbit/s, reference wireguard-go tunnel %.2f Gbit/s",
					i+1, enc, plain, ref)
			}
		})
	}

	t.Run("RotateWireGuardKey", func(t *testing.T) {
		rotateDuringPing(t, c, h1, h2, encIP, encMarker, vni)
	})

	t.Run("PluginKillNeverClear", func(t *testing.T) {
		// The userspace tunnel dies with the plugin: until the restarted plugin brings it back, h1's side
		// of the encrypted network must drop, not send in clear.
		cp, err := c.StartCapture([]string{encMarker}, plainVXLANPort, encryptedVXLANPort)
		if err != nil {
			t.Fatal(err)
		}
		old, err := h1.KillPlugin()
		if err != nil {
			t.Fatal(err)
		}
		killed := time.Now()
		for time.Since(killed) < 3*time.Second { // traffic while the plugin is gone
			_, _ = execIn(h2, "encclient", "timeout", "1", "wget", "-qO-", fmt.Sprintf("http://%s:8080/", encIP))
		}
		back := waitPluginBack(t, h1, old, 2*time.Minute)
		wantBody(t, h2, "encclient", fmt.Sprintf("http://%s:8080/", encIP), encMarker)
		t.Logf("plugin on h1 back after %s; the encrypted network answered again %s after the kill",
			back.Round(time.Millisecond), time.Since(killed).Round(time.Millisecond))
		counts, err := cp.Stop()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("underlay capture: %d frames; markers %v; UDP by port %v", counts.Frames, counts.Marker, counts.UDP)
		neverInClear(t, counts, encMarker, vni)
	})

	t.Run("PlainVXLANToEncryptedPortDropped", func(t *testing.T) {
		// Someone on the underlay sends plain VXLAN of the encrypted network straight to h2's encrypted VXLAN
		// port, outside the tunnel: h2's input rules drop it (and count it) before the VXLAN device sees it.
		// (From a member it would not even leave in clear: the member's routing puts that port into its
		// tunnel, or drops it.)
		before := mustStatus(t, h2).Firewall.VXLANNonMember
		const sent = 20
		err := inNetns(filepath.Join(NetnsDir, c.UnderlayNS), func() error {
			conn, err := net.Dial("udp", net.JoinHostPort(h2.IP.String(), fmt.Sprint(encryptedVXLANPort)))
			if err != nil {
				return err
			}
			defer conn.Close()
			frame := make([]byte, 8+42) // VXLAN header, then a broadcast Ethernet frame
			frame[0] = 0x08
			frame[4], frame[5], frame[6] = byte(vni>>16), byte(vni>>8), byte(vni)
			for i := 8; i < 14; i++ {
				frame[i] = 0xff
			}
			for range sent {
				if _, err := conn.Write(frame); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		Eventually(t, 10*time.Second, func() error {
			if got := mustStatus(t, h2).Firewall.VXLANNonMember - before; got < sent {
				return fmt.Errorf("h2 counted %d dropped datagrams of %d sent in clear to udp/%d", got, sent, encryptedVXLANPort)
			}
			return nil
		})
	})

	t.Run("StrangerKeyNotAccepted", func(t *testing.T) {
		strangerNotAccepted(t, c, h1, "10.61.0.0/24", encIP)
	})

	t.Run("HostThatCannotEncryptRefuses", func(t *testing.T) {
		st := mustStatus(t, h3)
		if st.Encryption.Device != "" || st.Encryption.Unavailable == "" {
			t.Errorf("h3 (no TUN, no WireGuard) reports encryption %+v: want it unavailable, with the reason", st.Encryption)
		}
		_, err := h3.Docker(append(append([]string{"network", "create"}, netArgs...), "--subnet", "10.63.0.0/24",
			"-o", "encrypted", "encnet3")...)
		if err == nil {
			_, _ = h3.Docker("network", "rm", "encnet3")
			t.Fatal("h3, which cannot encrypt, created an encrypted network")
		}
		if !strings.Contains(err.Error(), "cannot create or join an encrypted network") {
			t.Errorf("refusal on h3: %v; want the sentence that says this host cannot encrypt and why", err)
		}
		readable(t, err.Error())
		if _, err := h3.NetworkView("encnet"); err == nil {
			t.Errorf("h3, which cannot encrypt, has the encrypted network encnet")
		}
		for _, p := range mustStatus(t, h1).Encryption.Peers {
			if p.Addr == h3.IP.String() && p.Up {
				t.Errorf("h1 lists h3, which cannot encrypt, with an encrypted path up: %+v", p)
			}
		}
	})
}

// neverInClear fails t if the capture saw the encrypted network's marker, plain VXLAN of its VNI, or any datagram of
// the encrypted networks' VXLAN port outside the tunnel.
func neverInClear(t *testing.T, counts CaptureCounts, marker string, vni uint32) {
	t.Helper()
	if n := counts.Marker[marker]; n > 0 {
		t.Errorf("the encrypted network's marker crossed the underlay in clear in %d frames", n)
	}
	if n := counts.VNI[plainVXLANPort][vni]; n > 0 {
		t.Errorf("%d plain VXLAN datagrams (udp/%d) of the encrypted network (VNI %d) crossed the underlay", n, plainVXLANPort, vni)
	}
	if n := counts.UDP[encryptedVXLANPort]; n > 0 {
		t.Errorf("%d datagrams of the encrypted networks' VXLAN port udp/%d crossed the underlay outside the tunnel",
			n, encryptedVXLANPort)
	}
}

// networkVNI is the VNI h's plugin reports for network name.
func networkVNI(t *testing.T, h *Host, name string) uint32 {
	t.Helper()
	var vni uint32
	Eventually(t, 30*time.Second, func() error {
		st, err := h.Status()
		if err != nil {
			return err
		}
		for _, n := range st.Cluster.Networks {
			if n.Name == name && n.VNI != 0 {
				vni = n.VNI
				return nil
			}
		}
		return fmt.Errorf("%s does not list %s", h.Name, name)
	})
	return vni
}

// joinWithoutTUN installs on h, with the cluster key of the cluster's first host, a plugin whose config.json
// gives it no TUN device: on this kernel, without WireGuard, it cannot encrypt.
func joinWithoutTUN(t *testing.T, c *Cluster, h *Host) {
	t.Helper()
	key, err := c.Host(0).WeavegoCLI("token")
	if err != nil {
		t.Fatalf("weavego token on %s: %v", c.Host(0).Name, err)
	}
	dir := filepath.Join(t.TempDir(), "plugin-notun")
	if out, err := exec.Command("cp", "-a", PluginDir(), dir).CombinedOutput(); err != nil {
		t.Fatalf("copy the plugin bundle: %v: %s", err, out)
	}
	cfgPath := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	linux, _ := cfg["linux"].(map[string]any)
	delete(linux, "devices")
	if b, err = json.MarshalIndent(cfg, "", "  "); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	var peers []string
	for _, o := range c.Hosts() {
		if o != h {
			peers = append(peers, o.IP.String())
		}
	}
	if err := h.installPluginFrom(dir, map[string]string{"PEERS": strings.Join(peers, ","),
		"KEY": strings.TrimSpace(key)}); err != nil {
		t.Fatalf("install the plugin without TUN on %s: %v", h.Name, err)
	}
	waitPeer(t, c.Host(0), h.IP.String(), "alive", 2*time.Minute)
}

// iperfGbps runs iperf3 for 5 s from container cli on ch to container srv (address ip) on sh, both started
// before, and returns the received throughput in Gbit/s.
func iperfGbps(t *testing.T, sh *Host, srv string, ch *Host, cli, ip string) float64 {
	t.Helper()
	spid := strings.TrimSpace(sh.MustDocker(t, "inspect", "--format", "{{.State.Pid}}", srv))
	cpid := strings.TrimSpace(ch.MustDocker(t, "inspect", "--format", "{{.State.Pid}}", cli))
	return iperfNS(t, "/proc/"+spid+"/ns/net", "/proc/"+cpid+"/ns/net", ip)
}

// iperfNS runs iperf3 for 5 s from the network namespace cliNS to a server it starts in srvNS (address ip),
// and returns the received throughput in Gbit/s.
func iperfNS(t *testing.T, srvNS, cliNS, ip string) float64 {
	t.Helper()
	d, err := StartServer("iperf3-"+filepath.Base(srvNS), filepath.Join(t.TempDir(), "iperf3.log"),
		"nsenter", "--net="+srvNS, "--", "iperf3", "-s", "-p", "5201")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = d.Stop(5 * time.Second) }()
	var r struct {
		End struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	Eventually(t, 30*time.Second, func() error {
		out, err := Run(time.Minute, "nsenter", "--net="+cliNS, "--", "iperf3", "-c", ip, "-p", "5201",
			"-t", "5", "-J")
		if err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil || r.End.SumReceived.BitsPerSecond == 0 {
			return fmt.Errorf("iperf3 to %s: no throughput in its output (%v): %.300s", ip, err, out)
		}
		return nil
	})
	return r.End.SumReceived.BitsPerSecond / 1e9
}
