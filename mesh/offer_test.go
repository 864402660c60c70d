package mesh

import (
	"fmt"
	"testing"
	"time"
)

// A peer that offers its summary (as after a large repair) makes the member it offers it to ask for what it
// lacks at once, over real memberlist streams, long before any push/pull; a second series within OfferRounds·OfferInterval
// is not made.
func TestOfferRepairsTheMemberItReaches(t *testing.T) {
	t.Parallel()
	opts := func(name string, peers ...string) nodeOpts {
		return nodeOpts{name: name, peers: peers, pushPull: time.Hour}
	}
	a := startNode(t, opts("a"))
	b := startNode(t, opts("b", a.addr()))
	nodes := []*testNode{a, b}
	waitFor(t, 5*time.Second, "2 members everywhere", everyone(nodes, func(n *testNode) bool { return n.Members() == 2 }))
	const n = offerAfter + 10
	for i := range n { // written without broadcasts: news only an exchange brings
		b.store.write("b", Entry{Kind: "endpoint", Key: fmt.Sprintf("ep%04d", i), Value: []byte("v")}, time.Now())
	}
	now := time.Now()
	b.offer("", now)
	b.offer("", now.Add(OfferInterval/2))
	waitFor(t, 10*time.Second, "the offered member holds every record", func() bool { return len(a.List("endpoint")) == n })
	if got := b.Stats().SyncOffers; got != 1 {
		t.Errorf("b offered %d summaries, want 1 (one member to offer to, one series per OfferRounds·OfferInterval)", got)
	}
	if got := a.Stats().SyncRequests; got == 0 {
		t.Error("a holds b's records without having asked for them")
	}
}

// An exchange that brings at least offerAfter records asks its replica to offer its summary; a smaller one only
// passes its records on.
func TestLargeRepairAsksForAnOffer(t *testing.T) {
	for _, n := range []int{offerAfter - 1, offerAfter, maxRelay + 1} {
		src := NewReplica(ReplicaConfig{Name: "a"})
		offers := 0
		dst := NewReplica(ReplicaConfig{Name: "b", Offer: func() { offers++ }})
		for i := range n {
			src.Set("ep", fmt.Sprintf("k%04d", i), []byte("v"))
		}
		syncFrom(t, src, dst, nil)
		if want := map[bool]int{true: 1, false: 0}[n >= offerAfter]; offers != want {
			t.Errorf("%d records repaired: %d offers, want %d", n, offers, want)
		}
	}
}
