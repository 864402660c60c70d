//go:build linux

package e2e

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// wgPeer is a running e2e/wgpeer: wireguard-go with one peer, built by hand in a namespace.
type wgPeer struct {
	d   *Daemon
	log string
}

// startWGPeer runs wgpeer (bin, from BuildProbe) in the network namespace at nsPath with args, and waits
// until it reports its public key.
func startWGPeer(t *testing.T, bin, name, nsPath string, args ...string) *wgPeer {
	t.Helper()
	p := &wgPeer{log: filepath.Join(t.TempDir(), name+".log")}
	d, err := StartServer(name, p.log, append([]string{"nsenter", "--net=" + nsPath, "--", bin}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	p.d = d
	t.Cleanup(func() { _ = d.Stop(5 * time.Second) })
	Eventually(t, 30*time.Second, func() error {
		if p.field("public") == "" {
			return fmt.Errorf("wgpeer %s has not started: %s", name, p.tail())
		}
		return nil
	})
	return p
}

// field returns the value of the last line of the log that starts with key.
func (p *wgPeer) field(key string) string {
	f, err := os.Open(p.log)
	if err != nil {
		return ""
	}
	defer f.Close()
	v := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), key+" "); ok {
			v = rest
		}
	}
	return v
}

// status returns the last handshake (unix seconds, "0": none) and the bytes received from the peer.
func (p *wgPeer) status() (handshake, rx string) {
	f := strings.Fields(p.field("handshake"))
	if len(f) != 3 {
		return "", ""
	}
	return f[0], f[2]
}

func (p *wgPeer) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 500 {
		b = b[len(b)-500:]
	}
	return string(b)
}

// newWGKey returns a new private key and its public key, in base64.
func newWGKey(t *testing.T) (string, string) {
	t.Helper()
	k, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k.String(), k.PublicKey().String()
}

// referenceTunnel builds issue 21's reference: a wireguard-go tunnel (the version weavego uses, with
// wireguard-go's own TUN device and offloads), routed at L3, between the host namespaces of a and b, with
// addresses 10.99.0.1 (a) and 10.99.0.2 (b). It returns a's tunnel address.
func referenceTunnel(t *testing.T, a, b *Host) string {
	t.Helper()
	bin := BuildProbe(t, "wgpeer")
	ka, pa := newWGKey(t)
	kb, pb := newWGKey(t)
	const port = "6790"
	startWGPeer(t, bin, "wgref-"+a.Name, a.NSPath(), "-dev", "wgref0", "-port", port, "-key", ka, "-peer", pb,
		"-endpoint", b.IP.String()+":"+port, "-allowed", "10.99.0.2/32", "-addr", "10.99.0.1/24")
	startWGPeer(t, bin, "wgref-"+b.Name, b.NSPath(), "-dev", "wgref0", "-port", port, "-key", kb, "-peer", pa,
		"-endpoint", a.IP.String()+":"+port, "-allowed", "10.99.0.1/32", "-addr", "10.99.0.2/24")
	return "10.99.0.1"
}
