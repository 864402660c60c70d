package mesh

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"reflect"
	"sync"
	"testing"
	"time"
)

// testNode is a Mesh running on loopback with its Run loop.
type testNode struct {
	*Mesh
	rec  *recorder
	stop func() error
}

type nodeOpts struct {
	name     string
	keys     [][]byte
	rollout  Rollout
	peers    []string
	pushPull time.Duration
}

func startNode(t *testing.T, o nodeOpts) *testNode {
	t.Helper()
	rec := newRecorder()
	m, err := New(Config{
		Name: o.name, BindAddr: "127.0.0.1", BindPort: -1, AdvertiseAddr: netip.AddrFrom4([4]byte{127, 0, 0, 1}),
		Peers: o.peers, Keys: o.keys, KeyRollout: o.rollout, Logger: slog.New(rec), PushPullInterval: o.pushPull,
	})
	if err != nil {
		t.Fatalf("New(%s): %v", o.name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	n := &testNode{Mesh: m, rec: rec}
	n.stop = sync.OnceValue(func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			return fmt.Errorf("Run of %s did not return", o.name)
		}
	})
	t.Cleanup(func() {
		if err := n.stop(); err != nil && t.Failed() {
			t.Log(err)
		}
	})
	return n
}

func (n *testNode) addr() string { return n.list.LocalNode().Address() }

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting until %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func everyone(nodes []*testNode, cond func(n *testNode) bool) func() bool {
	return func() bool {
		for _, n := range nodes {
			if !cond(n) {
				return false
			}
		}
		return true
	}
}

func peerState(n *testNode, name string) string {
	for _, p := range n.Peers() {
		if p.Name == name {
			return p.State
		}
	}
	return ""
}

func TestCluster(t *testing.T) {
	t.Parallel()
	// Push/pull every second instead of ten, to test repair quickly;
	// failure detection uses the production defaults.
	opts := func(name string, peers ...string) nodeOpts {
		return nodeOpts{name: name, peers: peers, pushPull: time.Second}
	}
	n0 := startNode(t, opts("n0"))
	nodes := []*testNode{n0}
	for i := 1; i < 4; i++ {
		nodes = append(nodes, startNode(t, opts(fmt.Sprintf("n%d", i), n0.addr())))
	}
	waitFor(t, 5*time.Second, "4 members everywhere", everyone(nodes, func(n *testNode) bool { return n.Members() == 4 }))
	testReplication(t, nodes)

	// A member that joins late learns everything, tombstones included.
	for i := range 20 {
		nodes[i%4].Set("endpoint", fmt.Sprintf("ep%02d", i), []byte{byte(i)})
	}
	waitFor(t, 3*time.Second, "20 endpoints everywhere", everyone(nodes, func(n *testNode) bool { return len(n.List("endpoint")) == 21 }))
	late := startNode(t, opts("n4", nodes[3].addr()))
	nodes = append(nodes, late)
	waitFor(t, 5*time.Second, "late joiner has the full state", func() bool {
		return reflect.DeepEqual(late.Snapshot(), n0.Snapshot()) && late.Members() == 5
	})
	waitFor(t, 5*time.Second, "5 members everywhere", everyone(nodes, func(n *testNode) bool { return n.Members() == 5 }))

	testFailureAndLeave(t, nodes)
}

// testReplication checks that writes on one peer reach all of them, by
// broadcast, by direct send for a large value, and by push/pull for a
// write whose broadcast was lost.
func testReplication(t *testing.T, nodes []*testNode) {
	sub, unsubscribe := nodes[3].Subscribe()
	defer unsubscribe()
	drain(sub)
	e := nodes[1].Set("network", "net1", []byte("vni=4097"))
	if e.Owner != "n1" || e.Version != 1 {
		t.Errorf("Set returned %+v", e)
	}
	waitFor(t, 3*time.Second, "Set on n1 seen everywhere", everyone(nodes, func(n *testNode) bool {
		got, ok := n.Get("network", "net1")
		return ok && reflect.DeepEqual(got, e)
	}))
	select {
	case <-sub:
	case <-time.After(time.Second):
		t.Error("subscriber on n3 got no signal for the Set")
	}

	d := nodes[2].Delete("network", "net1")
	waitFor(t, 3*time.Second, "Delete on n2 seen everywhere", everyone(nodes, func(n *testNode) bool {
		got, ok := n.Get("network", "net1")
		return ok && got.Deleted && got.Version == d.Version && len(n.List("network")) == 0
	}))

	big := bytes.Repeat([]byte("x"), 5000)
	nodes[0].Set("blob", "big", big)
	waitFor(t, 3*time.Second, "large entry seen everywhere", everyone(nodes, func(n *testNode) bool {
		got, ok := n.Get("blob", "big")
		return ok && bytes.Equal(got.Value, big)
	}))

	// A write whose broadcast was lost is repaired by push/pull.
	nodes[2].store.write("n2", Entry{Kind: "endpoint", Key: "lost", Value: []byte("v")}, time.Now())
	waitFor(t, 8*time.Second, "unbroadcast write repaired by push/pull", everyone(nodes, func(n *testNode) bool {
		_, ok := n.Get("endpoint", "lost")
		return ok
	}))
	// Every member reads format 3: the repair came by sync by difference, a summary, then a request and a
	// chunk of n2's records.
	var requests, chunks uint64
	for _, n := range nodes {
		st := n.Stats()
		requests += st.SyncRequests
		chunks += st.SyncChunksSent
	}
	if requests == 0 || chunks == 0 {
		t.Errorf("repair without sync by difference: %d requests, %d chunks sent", requests, chunks)
	}
}

// testFailureAndLeave kills n4 without leaving and stops n3 gracefully,
// and checks what the remaining peers list.
func testFailureAndLeave(t *testing.T, nodes []*testNode) {
	killed, leaver, rest := nodes[4], nodes[3], nodes[:3]
	bound := killed.cfg.detectionBound(5)
	start := time.Now()
	if err := killed.Close(); err != nil {
		t.Fatal(err)
	}
	sawSuspect := false
	waitFor(t, bound, "n4 seen dead by every other peer within "+bound.String(), func() bool {
		for _, n := range nodes[:4] {
			sawSuspect = sawSuspect || peerState(n, "n4") == StateSuspect
		}
		return everyone(nodes[:4], func(n *testNode) bool { return peerState(n, "n4") == StateDead && !n.Alive("n4") })()
	})
	if !sawSuspect {
		t.Error("no peer listed n4 as suspect before declaring it dead")
	}
	t.Logf("n4 declared dead by all peers after %s (bound %s)", time.Since(start).Round(time.Millisecond), bound)

	if err := leaver.stop(); err != nil {
		t.Errorf("Run of leaving peer: %v", err)
	}
	waitFor(t, 3*time.Second, "n3 seen as left", everyone(rest, func(n *testNode) bool { return peerState(n, "n3") == StateLeft }))

	want := []Peer{
		{Name: "n0", State: StateAlive, Local: true},
		{Name: "n1", State: StateAlive},
		{Name: "n2", State: StateAlive},
		{Name: "n3", State: StateLeft},
		{Name: "n4", State: StateDead},
	}
	got := rest[0].Peers()
	for i := range got {
		if got[i].Addr != netip.AddrFrom4([4]byte{127, 0, 0, 1}) || got[i].Port == 0 {
			t.Errorf("peer %s has address %s:%d", got[i].Name, got[i].Addr, got[i].Port)
		}
		if gone := got[i].State != StateAlive; gone == got[i].Since.IsZero() {
			t.Errorf("peer %s is %s with Since %v", got[i].Name, got[i].State, got[i].Since)
		}
		got[i].Addr, got[i].Port, got[i].Since = netip.Addr{}, 0, time.Time{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Peers() on n0 =\n%+v\nwant\n%+v", got, want)
	}
	if os.Getenv("MESH_DUMP_LOG") != "" {
		for _, l := range *rest[0].rec.lines {
			t.Log(l)
		}
	}
	if rest[0].Members() != 3 {
		t.Errorf("Members() = %d, want 3", rest[0].Members())
	}
	st := rest[0].Stats()
	if st.Entries != 22 || st.Tombstones != 1 || st.MergesApplied == 0 || st.BytesReceived == 0 || st.BroadcastsSent == 0 {
		t.Errorf("unexpected stats %+v", st)
	}
}

func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}
