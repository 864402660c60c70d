package mesh

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestWrongKeyCannotJoin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		keys [][]byte
	}{
		{"other key", [][]byte{testKey(2)}},
		{"no key", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			good := startNode(t, nodeOpts{name: "good", keys: [][]byte{testKey(1)}, pushPull: 200 * time.Millisecond})
			bad := startNode(t, nodeOpts{name: "bad", keys: tt.keys, peers: []string{good.addr()},
				pushPull: 200 * time.Millisecond})
			good.Set("network", "from-good", []byte("g"))
			bad.Set("network", "from-bad", []byte("b"))
			hint := "could not be decrypted: " + passwordHint
			waitFor(t, 5*time.Second, "both sides log the key hint", func() bool {
				return good.rec.contains("gossip from 127.0.0.1 "+hint) && bad.rec.contains(hint)
			})
			// A few push/pull rounds would have carried the entries.
			time.Sleep(time.Second)
			if good.Members() != 1 || bad.Members() != 1 || good.Alive("bad") {
				t.Errorf("members: good %d, bad %d; want 1 and 1", good.Members(), bad.Members())
			}
			if _, ok := good.Get("network", "from-bad"); ok {
				t.Error("the host with the key took an entry from a host without it")
			}
			if _, ok := bad.Get("network", "from-good"); ok {
				t.Error("the host without the key got an entry from the keyed cluster")
			}
		})
	}
}

func TestKeyedMeshesExchangeAndRotate(t *testing.T) {
	t.Parallel()
	old, next := testKey(1), testKey(9)
	a := startNode(t, nodeOpts{name: "a", keys: [][]byte{old}})
	b := startNode(t, nodeOpts{name: "b", keys: [][]byte{old}, peers: []string{a.addr()}})
	nodes := []*testNode{a, b}
	waitFor(t, 5*time.Second, "2 members", everyone(nodes, func(n *testNode) bool { return n.Members() == 2 }))
	a.Set("network", "n1", []byte("1"))
	waitFor(t, 5*time.Second, "entry replicated", func() bool { _, ok := b.Get("network", "n1"); return ok })

	// Rotation: install everywhere, use everywhere, remove everywhere.
	steps := []func(n *testNode) error{
		func(n *testNode) error { return n.InstallKey(next) },
		func(n *testNode) error { return n.UseKey(next) },
		func(n *testNode) error { return n.RemoveKey(old) },
	}
	for i, step := range steps {
		for _, n := range nodes {
			if err := step(n); err != nil {
				t.Fatalf("step %d on %s: %v", i, n.name, err)
			}
		}
		key := "step" + string(rune('0'+i))
		b.Set("network", key, []byte("x"))
		waitFor(t, 5*time.Second, "entry after "+key, func() bool { _, ok := a.Get("network", key); return ok })
	}
	if keys := a.Keys(); len(keys) != 1 || !bytes.Equal(keys[0], next) {
		t.Errorf("keys after rotation: %d keys", len(keys))
	}
	if a.Members() != 2 {
		t.Errorf("members after rotation %d", a.Members())
	}
}

func TestKeyMethods(t *testing.T) {
	t.Parallel()
	open := startNode(t, nodeOpts{name: "open"})
	if err := open.InstallKey(testKey(1)); !errors.Is(err, ErrOpenCluster) {
		t.Errorf("InstallKey on an open mesh: %v", err)
	}
	if open.Encrypted() || open.Keys() != nil {
		t.Error("an open mesh says it is encrypted")
	}
	k := startNode(t, nodeOpts{name: "k", keys: [][]byte{testKey(1)}})
	tests := []struct {
		name    string
		call    func() error
		wantErr bool
	}{
		{"install short", func() error { return k.InstallKey([]byte("short")) }, true},
		{"use missing", func() error { return k.UseKey(testKey(2)) }, true},
		{"remove primary", func() error { return k.RemoveKey(testKey(1)) }, true},
		{"remove missing", func() error { return k.RemoveKey(testKey(2)) }, true},
		{"install", func() error { return k.InstallKey(testKey(2)) }, false},
		{"install again", func() error { return k.InstallKey(testKey(2)) }, false},
		{"use", func() error { return k.UseKey(testKey(2)) }, false},
		{"remove old", func() error { return k.RemoveKey(testKey(1)) }, false},
	}
	for _, tt := range tests {
		if err := tt.call(); (err != nil) != tt.wantErr {
			t.Errorf("%s: error %v, want error %v", tt.name, err, tt.wantErr)
		}
	}
}

// TestRollout moves a two-host open cluster to a key one stage at a time,
// restarting one host per step, and checks that entries flow at each step.
func TestRollout(t *testing.T) {
	t.Parallel()
	key := [][]byte{testKey(5)}
	stages := []struct {
		name string
		a, b nodeOpts
	}{
		{"open and accept", nodeOpts{}, nodeOpts{keys: key, rollout: RolloutAccept}},
		{"accept and send", nodeOpts{keys: key, rollout: RolloutAccept}, nodeOpts{keys: key, rollout: RolloutSend}},
		{"send and strict", nodeOpts{keys: key, rollout: RolloutSend}, nodeOpts{keys: key}},
	}
	for _, st := range stages {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			st.a.name, st.b.name = "a", "b"
			a := startNode(t, st.a)
			st.b.peers = []string{a.addr()}
			b := startNode(t, st.b)
			a.Set("network", "from-a", []byte("a"))
			b.Set("network", "from-b", []byte("b"))
			waitFor(t, 5*time.Second, "entries both ways", func() bool {
				_, ok1 := a.Get("network", "from-b")
				_, ok2 := b.Get("network", "from-a")
				return ok1 && ok2 && a.Members() == 2
			})
		})
	}
}

func TestDirectSender(t *testing.T) {
	release := make(chan struct{})
	sent := make(chan string, 16)
	s := newDirectSender(3, func(msg []byte, _ <-chan struct{}) {
		<-release
		sent <- string(msg)
	})
	defer s.close()
	s.enqueue("first", []byte("first")) // taken by the loop, blocks in send
	waitFor(t, time.Second, "loop took the first message", func() bool { return s.queued() == 0 })
	s.enqueue("x", []byte("x1"))
	s.enqueue("y", []byte("y1"))
	s.enqueue("x", []byte("x2")) // replaces x1 in place
	s.enqueue("z", []byte("z1"))
	s.enqueue("w", []byte("w1")) // full: drops x, the oldest
	if s.queued() != 3 || s.dropped.Load() != 1 {
		t.Fatalf("queued %d dropped %d, want 3 and 1", s.queued(), s.dropped.Load())
	}
	close(release)
	var got []string
	for range 4 {
		select {
		case m := <-sent:
			got = append(got, m)
		case <-time.After(2 * time.Second):
			t.Fatalf("sent only %v", got)
		}
	}
	want := []string{"first", "y1", "z1", "w1"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("sent %v, want %v", got, want)
		}
	}
}
