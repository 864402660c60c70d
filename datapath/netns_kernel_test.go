package datapath

import (
	"testing"

	"github.com/weavego/weavego/internal/nsrun"
)

// TestRepin: a network whose pin went away while the Manager held its
// namespace is pinned again, with its devices.
func TestRepin(t *testing.T) {
	tn := newTestNS(t)
	n := testNetwork("repin", 0, "")
	if _, err := tn.m.EnsureNetwork(n); err != nil {
		t.Fatal(err)
	}
	path := NamespacePath(tn.nsDir, n.ID)
	if err := nsrun.Remove(path); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := tn.m.Repin(); err != nil {
			t.Fatal(err)
		}
	}
	if pinned, err := nsrun.IsPinned(path); err != nil || !pinned {
		t.Fatalf("after Repin: pinned %v, %v", pinned, err)
	}
	tn.net(t, n.ID).link(t, BridgeName(n.ID))
}
