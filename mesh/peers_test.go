package mesh

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

func TestPeerTableStates(t *testing.T) {
	t0 := time.Now()
	ip := netip.MustParseAddr("10.0.0.2")
	tests := []struct {
		name  string
		steps func(pt *peerTable)
		at    time.Time
		want  string
	}{
		{"joined", func(pt *peerTable) {}, t0, StateAlive},
		{"probe failed", func(pt *peerTable) { pt.suspect("b", t0) }, t0, StateSuspect},
		{"probe acked after suspicion", func(pt *peerTable) { pt.suspect("b", t0); pt.acked("b") }, t0, StateAlive},
		{"suspicion expires", func(pt *peerTable) { pt.suspect("b", t0) }, t0.Add(time.Hour), StateAlive},
		{"declared dead", func(pt *peerTable) { pt.suspect("b", t0); pt.gone("b", t0) }, t0, StateDead},
		{"bye then gone", func(pt *peerTable) { pt.bye("b", t0); pt.gone("b", t0) }, t0, StateLeft},
		{"gone then late bye", func(pt *peerTable) { pt.gone("b", t0); pt.bye("b", t0) }, t0, StateLeft},
		{"old bye then crash", func(pt *peerTable) { pt.bye("b", t0); pt.gone("b", t0.Add(time.Hour)) }, t0, StateDead},
		{"rejoined", func(pt *peerTable) { pt.gone("b", t0); pt.join("b", ip, 6783) }, t0, StateAlive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pt := newPeerTable("a", time.Minute)
			pt.join("a", ip, 6783)
			pt.join("b", ip, 6784)
			tt.steps(pt)
			for _, p := range pt.list(tt.at) {
				if p.Name == "b" && p.State != tt.want {
					t.Errorf("state = %s, want %s", p.State, tt.want)
				}
				if p.Local != (p.Name == "a") {
					t.Errorf("peer %s: Local = %v", p.Name, p.Local)
				}
			}
		})
	}
}

func TestPeerTableForget(t *testing.T) {
	t0 := time.Now()
	pt := newPeerTable("a", time.Minute)
	pt.join("a", netip.AddrFrom4([4]byte{10, 0, 0, 1}), 6783)
	pt.join("b", netip.AddrFrom4([4]byte{10, 0, 0, 2}), 6783)
	pt.gone("b", t0)
	if pt.members() != 1 || pt.member("b") || !pt.member("a") {
		t.Fatalf("members = %d, b member = %v", pt.members(), pt.member("b"))
	}
	if got := pt.forget(t0.Add(time.Second), time.Minute); len(got) != 0 {
		t.Errorf("forgot %v too early", got)
	}
	if got := pt.forget(t0.Add(2*time.Minute), time.Minute); len(got) != 1 || got[0] != "b" {
		t.Errorf("forgot %v, want [b]", got)
	}
	if n := len(pt.list(t0)); n != 1 {
		t.Errorf("%d peers listed after forgetting, want 1", n)
	}
}

func TestSubscribersCoalesce(t *testing.T) {
	s := newSubscribers()
	ch, cancel := s.add()
	for range 3 {
		s.notify() // never blocks, although nobody reads
	}
	<-ch
	select {
	case <-ch:
		t.Fatal("three notifications were not coalesced into one")
	default:
	}
	cancel()
	cancel() // idempotent
	if _, ok := <-ch; ok {
		t.Fatal("channel not closed by unsubscribe")
	}
	s.notify() // no panic on a closed, removed channel
}

func TestPeerTableForgetBound(t *testing.T) {
	pt := newPeerTable("a", time.Second)
	t0 := time.Now()
	for i := range maxGonePeers + 10 {
		name := fmt.Sprintf("p%04d", i)
		pt.join(name, netip.AddrFrom4([4]byte{10, 0, 0, 1}), 6783)
		pt.gone(name, t0.Add(time.Duration(i)*time.Millisecond))
	}
	got := pt.forget(t0.Add(time.Minute), time.Hour)
	if len(got) != 10 || len(pt.list(t0)) != maxGonePeers {
		t.Fatalf("forgot %d, kept %d; want 10 and %d", len(got), len(pt.list(t0)), maxGonePeers)
	}
	for _, name := range got {
		if name >= "p0010" {
			t.Errorf("forgot %s, which went away after the oldest", name)
		}
	}
}
