//go:build linux

package bench

import (
	"fmt"
	"testing"
	"time"

	"github.com/weavego/weavego/e2e"
)

// benchFloodDatagrams is how many broadcast (then multicast) datagrams the flooding step sends.
const benchFloodDatagrams = 200

// measureFlood counts what one broadcast and one multicast datagram cost on the underlay: the VXLAN device
// replicates each to every other host of the network (head-end replication), so the sender's host sends N-1
// VXLAN packets per datagram. It needs the weavego network on all 3 hosts (steps setup-weavego and new-host).
func (b *bench) measureFlood(t *testing.T) {
	if b.weaveNS[2] == "" {
		t.Skip("bench: flooding needs the weavego network on 3 hosts (steps setup-weavego and new-host)")
	}
	h1 := b.c.Host(0)
	ip, err := h1.ContainerIP("wg1", benchWeaveNet)
	if err != nil {
		t.Fatalf("bench: %v", err)
	}
	probe := e2e.BuildProbe(t, "flood")
	cnt, err := newBenchCounter(benchUnderlayNS(h1), "wgbenchflood", "udp dport 4789 counter")
	if err != nil {
		t.Fatalf("bench: %v", err)
	}
	defer cnt.close()
	hosts := 3
	for _, dst := range []struct{ addr, kind string }{{"10.99.0.255", "broadcast"}, {e2e.FloodGroup, "multicast"}} {
		for rep := 0; rep < benchReps; rep++ {
			p0, b0, err := cnt.read()
			if err != nil {
				t.Fatalf("bench: %v", err)
			}
			if _, err := e2e.Run(time.Minute, "nsenter", "--net="+b.weaveNS[0], "--", probe, "send", dst.addr, e2e.FloodPort,
				fmt.Sprint(benchFloodDatagrams), "x", ip); err != nil {
				t.Fatalf("bench: send %s: %v", dst.kind, err)
			}
			time.Sleep(200 * time.Millisecond)
			p1, b1, err := cnt.read()
			if err != nil {
				t.Fatalf("bench: %v", err)
			}
			path := fmt.Sprintf("weavego, %d hosts", hosts)
			b.rep.add("flooding", fmt.Sprintf("underlay VXLAN packets sent per %s datagram", dst.kind), path, "packets",
				float64(p1-p0)/benchFloodDatagrams)
			b.rep.add("flooding", fmt.Sprintf("underlay bytes sent per %s datagram", dst.kind), path, "bytes",
				float64(b1-b0)/benchFloodDatagrams)
		}
	}
	b.rep.note("Flooding: broadcast and multicast frames are replicated by the sending host's VXLAN device to every other host that has the network (the all-zero FDB entries, one per host): a datagram costs the sender N-1 underlay packets and N-1 times its size plus 50 bytes of VXLAN, IP and UDP headers, and each other host's CPU one packet, whether or not one of its containers listens. Measured by sending %d small UDP datagrams (the e2e flood probe) to the network's broadcast address and then to a multicast group from a container on h1, with the network on %d hosts, counting UDP packets to port 4789 leaving h1's namespace (an nftables counter in postrouting). TestBroadcastMulticast checks that each receiver gets each datagram exactly once.",
		benchFloodDatagrams, hosts)
}
