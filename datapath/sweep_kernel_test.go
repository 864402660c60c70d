package datapath

import (
	"testing"

	"github.com/vishvananda/netlink"
)

// TestSweepEndpoints leaves the pairs a lost background delete or a crash
// leaves, next to known ones and to links of other names, and checks that
// the sweep removes exactly the strays, twice over.
func TestSweepEndpoints(t *testing.T) {
	tn := newTestNS(t)
	ctr := newTestNS(t) // stands for a container's namespace
	known, unknown := testNetwork("sweepknown", 0, ""), testNetwork("sweepunknown", 0, "")
	for _, n := range []Network{known, unknown} {
		if _, err := tn.m.EnsureNetwork(n); err != nil {
			t.Fatal(err)
		}
	}
	create := func(netID, epID string, inContainer bool) {
		t.Helper()
		if _, _, err := tn.m.CreateEndpoint(Endpoint{NetworkID: netID, ID: epID}); err != nil {
			t.Fatal(err)
		}
		if inContainer {
			_, c := VethNames(epID)
			if err := tn.h.LinkSetNsFd(tn.link(t, c), int(ctr.ns)); err != nil {
				t.Fatalf("move %s into the container namespace: %v", c, err)
			}
		}
	}
	create(known.ID, "kept-free", false)  // created, not yet joined
	create(known.ID, "kept-joined", true) // in use by a container
	create(known.ID, "stray-free", false)
	create(known.ID, "stray-joined", true)
	create(unknown.ID, "stray-unk", false) // container end back in the host namespace
	create(unknown.ID, "unk-joined", true) // an unknown network's container: left to Leftovers
	upIf, foreignIf, brIf := addVeth(t, tn, "wgc-up", "peer0", true), addVeth(t, tn, "other0", "peer1", false), ContVethPrefix+"br"
	if err := tn.h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: brIf}}); err != nil {
		t.Fatal(err)
	}

	for i := range 2 {
		if err := tn.m.SweepEndpoints([]string{known.ID}, []string{"kept-free", "kept-joined"}); err != nil {
			t.Fatalf("sweep #%d: %v", i, err)
		}
	}
	kn, un := tn.net(t, known.ID), tn.net(t, unknown.ID)
	for _, id := range []string{"kept-free", "kept-joined"} {
		h, _ := VethNames(id)
		kn.link(t, h)
	}
	tn.link(t, ContVethPrefix+"kept-free")
	for _, id := range []string{"stray-free", "stray-joined"} {
		h, c := VethNames(id)
		kn.absent(t, h)
		tn.absent(t, c)
		ctr.absent(t, c)
	}
	h, c := VethNames("stray-unk")
	un.absent(t, h)
	tn.absent(t, c)
	h, _ = VethNames("unk-joined")
	un.link(t, h)
	for _, name := range []string{upIf, foreignIf, brIf} {
		tn.link(t, name)
	}
}

// addVeth adds a veth pair named name and peer in tn, name up or down.
func addVeth(t *testing.T, tn *testNS, name, peer string, up bool) string {
	t.Helper()
	attrs := netlink.NewLinkAttrs()
	attrs.Name = name
	if err := tn.h.LinkAdd(&netlink.Veth{LinkAttrs: attrs, PeerName: peer}); err != nil {
		t.Fatalf("add veth %s: %v", name, err)
	}
	if up {
		if err := tn.h.LinkSetUp(tn.link(t, name)); err != nil {
			t.Fatal(err)
		}
	}
	return name
}
