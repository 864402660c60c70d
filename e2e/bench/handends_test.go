//go:build linux

package bench

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/weavego/weavego/e2e"
)

// benchHandDockerEnds is the hand-built VXLAN network with weavego's two containers as its ends: the kernel
// path of the hand VXLAN, the end namespaces of weavego. It is measured for throughput and latency, to tell a
// cost of weavego's datapath from a cost of the namespaces Docker makes for containers.
const benchHandDockerEnds = "hand-vxlan, container ends"

// benchNoNAT marks a path measured with Docker's NAT rules taken out of weavego's containers.
const benchNoNAT = ", Docker's NAT rules removed"

// setupHandDockerEnds gives weavego's containers on h1 and h2 one more interface, hv0, on the hand-built
// VXLAN bridge (a veth from the hand network's namespace, as setupHandVXLAN gives its own end namespaces), with
// FDB and neighbour entries for the other side.
func (b *bench) setupHandDockerEnds(t *testing.T) {
	if b.handNetNS[0] == "" || b.weaveNS[0] == "" || b.weaveNS[1] == "" {
		t.Skip("bench: needs the hand VXLAN and weavego's containers")
	}
	macs := make([]string, 2)
	ips := []string{"10.97.0.11", "10.97.0.12"}
	for i := range macs {
		macs[i] = b.handAttach(t, i, "hvc0", filepath.Base(b.weaveNS[i]), "hv0", ips[i])
	}
	for i := range macs {
		b.handRemote(t, i, macs[1-i], ips[1-i])
	}
	p := &benchPath{name: benchHandDockerEnds, clientNS: b.weaveNS[0], server: b.weaveNS[1], serverIP: ips[1]}
	if err := benchPingable(p, 30*time.Second); err != nil {
		t.Fatalf("bench: weavego's containers cannot ping each other over the hand VXLAN: %v", err)
	}
	b.paths[benchHandDockerEnds] = p
	b.rep.note("%s: the hand VXLAN network, whose ends are weavego's containers on h1 and h2, each given one more interface on the hand-built bridge: throughput and latency, to tell the datapath's cost from the container namespaces'.", benchHandDockerEnds)
	b.rep.note("Without Docker's NAT rules: in every repetition of throughput and latency, after the other paths, the nftables ruleset of weavego's two containers (Docker's DNAT and SNAT rules for its embedded resolver at 127.0.0.11, which turn on connection tracking in the container's namespace) is saved and flushed, weavego and %q are measured again, and the ruleset is restored.", benchHandDockerEnds)
}

// endsPaths returns the paths that throughput and latency measure in every repetition: the contenders and
// the hand VXLAN with container ends; and copies of weavego and of that path, measured again with Docker's
// NAT rules taken out of the two containers (see withoutDockerNAT).
func (b *bench) endsPaths() (paths, noNAT []*benchPath) {
	paths = b.ordered()
	ends := b.paths[benchHandDockerEnds]
	if ends == nil { // set up only with weavego's containers, and noted there with the paths below
		return paths, nil
	}
	paths = append(paths, ends)
	for _, p := range []*benchPath{b.paths[benchWeavego], ends} {
		q := *p
		q.name += benchNoNAT
		noNAT = append(noNAT, &q)
	}
	return paths, noNAT
}

// withoutDockerNAT runs f with the nftables ruleset of weavego's two containers flushed, and restores it.
// Docker puts NAT rules for its embedded resolver in every container on a user-defined network; with them
// the kernel tracks every connection of the container, which a namespace without rules does not pay for.
func (b *bench) withoutDockerNAT(t *testing.T, f func()) {
	nss := []string{b.weaveNS[0], b.weaveNS[1]}
	saved := make([]string, len(nss))
	for i, ns := range nss {
		out, err := e2e.Run(time.Minute, "nsenter", "--net="+ns, "--", "nft", "list", "ruleset")
		if err != nil {
			t.Errorf("bench: save the ruleset of %s: %v", ns, err)
			return
		}
		saved[i] = out
	}
	flushed := 0
	defer func() {
		for i, ns := range nss[:flushed] {
			file := filepath.Join(b.c.Dir(), "bench-ruleset-"+filepath.Base(ns)+".nft")
			if err := os.WriteFile(file, []byte(saved[i]), 0o600); err != nil {
				t.Errorf("bench: %v", err)
				continue
			}
			if _, err := e2e.Run(time.Minute, "nsenter", "--net="+ns, "--", "nft", "-f", file); err != nil {
				t.Errorf("bench: restore the ruleset of %s: %v", ns, err)
			}
		}
	}()
	for _, ns := range nss {
		if _, err := e2e.Run(time.Minute, "nsenter", "--net="+ns, "--", "nft", "flush", "ruleset"); err != nil {
			t.Errorf("bench: flush the ruleset of %s: %v", ns, err)
			return
		}
		flushed++
	}
	f()
}
