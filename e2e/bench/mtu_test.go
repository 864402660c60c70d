//go:build linux

package bench

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weavego/weavego/e2e"
)

const (
	benchJumbo       = 9000
	benchJumboNet    = "benchwg9k"
	benchJumboSubnet = "10.99.9.0/24"
)

// measureMTU raises the underlay to 9000 bytes (br0, every host's veth pair), raises the hand-built VXLAN to
// 8950, creates a new weavego network without an MTU option, checks the MTU weavego chose, and measures
// throughput on the underlay, the hand VXLAN and weavego.
func (b *bench) measureMTU(t *testing.T) {
	jumbo, inner := strconv.Itoa(benchJumbo), strconv.Itoa(benchJumbo-50)
	ul := b.c.UnderlayNS
	for _, h := range b.c.Hosts() {
		benchMust(t, "ip", "-n", ul, "link", "set", h.UnderlayLink(), "mtu", jumbo)
		benchMust(t, "ip", "-n", h.NetNS, "link", "set", "eth0", "mtu", jumbo)
	}
	benchMust(t, "ip", "-n", ul, "link", "set", "br0", "mtu", jumbo)
	paths := []*benchPath{b.paths[benchUnderlay]}
	if hp := b.paths[benchHand]; hp != nil {
		for i := range b.c.Hosts()[:2] {
			for _, dev := range []string{"hvx0", "hvbr0", "hvv0"} {
				benchMust(t, "ip", "-n", filepath.Base(b.handNetNS[i]), "link", "set", dev, "mtu", inner)
			}
			benchMust(t, "ip", "-n", b.nsName(fmt.Sprintf("hv%d", i+1)), "link", "set", "eth0", "mtu", inner)
		}
		paths = append(paths, hp)
	}
	if b.paths[benchWeavego] != nil {
		if p := b.jumboWeavego(t); p != nil {
			paths = append(paths, p)
		}
	}
	for _, p := range paths {
		if err := benchPingable(p, 30*time.Second); err != nil {
			t.Errorf("bench: %s at MTU %d: %v", p.name, benchJumbo, err)
		}
	}
	b.measureThroughput(t, benchThroughputReps, ", underlay MTU 9000", paths, nil)
	b.rep.note("MTU: the underlay bridge and every host's veth pair are set to 9000 bytes at run time; the hand VXLAN is set to 8950; a new weavego network is created with no MTU option and the MTU weavego chose is read from the container's eth0 and the host's VXLAN devices.")
}

// jumboWeavego creates the jumbo weavego network with a container on h1 and h2 and returns its path.
func (b *bench) jumboWeavego(t *testing.T) *benchPath {
	h1, h2 := b.c.Host(0), b.c.Host(1)
	b.createWeaveNet(t, benchJumboNet, benchJumboSubnet)
	b.waitNetwork(t, h2, benchJumboNet, time.Minute)
	p := &benchPath{name: benchWeavego}
	p.clientNS, _ = b.container(t, h1, benchJumboNet, "wgj1")
	p.server, p.serverIP = b.container(t, h2, benchJumboNet, "wgj2")
	for _, ns := range []string{p.clientNS, p.server} {
		out, err := e2e.Run(time.Minute, "nsenter", "--net="+ns, "--", "ip", "-o", "link", "show", "eth0")
		if err != nil {
			t.Errorf("bench: %v", err)
			continue
		}
		mtu := benchField(out, "mtu")
		v, _ := strconv.ParseFloat(mtu, 64)
		b.rep.add("MTU", "container eth0 MTU on a 9000-byte underlay (goal 8950)", benchWeavego, "bytes", v)
	}
	out, _ := h1.Exec("ip", "-o", "-d", "link", "show", "type", "vxlan")
	var mtus []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(line); len(f) > 1 {
			mtus = append(mtus, strings.TrimSuffix(f[1], ":")+"="+benchField(line, "mtu"))
		}
	}
	b.rep.note("MTU of h1's VXLAN devices after the change: %s (weavego's older networks keep the MTU they were created with).", strings.Join(mtus, ", "))
	b.benchServe(t, "iperf3-weavego-jumbo", benchIperfServer(p.server)...)
	return p
}

// benchField returns the word after key in s.
func benchField(s, key string) string {
	f := strings.Fields(s)
	for i := range f {
		if f[i] == key && i+1 < len(f) {
			return f[i+1]
		}
	}
	return ""
}
