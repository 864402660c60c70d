package mesh

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// runAdmitNode runs a Mesh with validators on loopback until the test ends.
func runAdmitNode(t *testing.T, name string, validators map[string]func(Entry) error, peers ...string) *Mesh {
	t.Helper()
	m, err := New(Config{Name: name, BindAddr: "127.0.0.1", BindPort: -1, AdvertiseAddr: netip.AddrFrom4([4]byte{127, 0, 0, 1}),
		Peers: peers, Logger: slog.New(slog.DiscardHandler), PushPullInterval: 200 * time.Millisecond,
		Validators: validators})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = m.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return m
}

// A member that writes anything (here: one without validators) gets only
// its valid entries into a peer that checks, by broadcast, direct message
// and push/pull alike.
func TestGossipAdmitsOnlyValidEntries(t *testing.T) {
	loose := runAdmitNode(t, "loose", nil)
	strict := runAdmitNode(t, "strict", testKinds(), loose.list.LocalNode().Address())
	waitFor(t, 10*time.Second, "both members", func() bool { return strict.Members() == 2 && loose.Members() == 2 })

	loose.Set("k", "good", []byte("v"))
	loose.Set("k", "bad", []byte("bad"))
	loose.Set("unknown", "x", []byte("v"))
	loose.Set("k", "huge", []byte(strings.Repeat("h", MaxValueBytes+1))) // too big for gossip: sent directly
	waitFor(t, 10*time.Second, "good entry merged, two others rejected, the unknown kind ignored", func() bool {
		_, ok := strict.Get("k", "good")
		return ok && strict.Stats().Rejected >= 2 && strict.Stats().NotUnderstood >= 1
	})
	for _, id := range [][2]string{{"k", "bad"}, {"unknown", "x"}, {"k", "huge"}} {
		if _, ok := strict.Get(id[0], id[1]); ok {
			t.Errorf("entry %s/%s merged", id[0], id[1])
		}
	}
	for _, r := range strict.Rejected() {
		if r.Owner != "loose" {
			t.Errorf("rejection of owner %q", r.Owner)
		}
	}
}
