package meshtest

import (
	"testing"
	"time"

	"github.com/weavego/weavego/mesh"
)

func value(p *Peer, key string) string {
	e, ok := p.Get("k", key)
	if !ok {
		return "<none>"
	}
	if e.Deleted {
		return "<deleted>"
	}
	return string(e.Value)
}

func TestPartitionHealKill(t *testing.T) {
	n := New(Config{})
	a, b, c := n.Peer("a"), n.Peer("b"), n.Peer("c")
	a.Set("k", "x", []byte("1"))
	if got := value(c, "x"); got != "1" {
		t.Fatalf("broadcast: c has %s", got)
	}
	n.Partition([]string{"a"}, []string{"b", "c"})
	if a.Alive("b") || !b.Alive("c") {
		t.Fatal("membership does not follow the partition")
	}
	a.Set("k", "x", []byte("2"))
	b.Delete("k", "x")
	if value(a, "x") != "2" || value(c, "x") != "<deleted>" {
		t.Fatalf("writes crossed the partition: a %s, c %s", value(a, "x"), value(c, "x"))
	}
	n.Heal()
	// Both writes are at version 2; mesh's order breaks the tie by owner.
	if value(a, "x") != value(c, "x") || value(a, "x") != "<deleted>" {
		t.Fatalf("after heal a has %s, c %s, want the tombstone of b (owner b > a)", value(a, "x"), value(c, "x"))
	}
	n.Kill("c")
	if a.Alive("c") || value(c, "x") != "<none>" {
		t.Fatal("a killed peer is alive or kept its replica")
	}
	n.Start("c")
	n.Sync()
	if !a.Alive("c") || value(c, "x") != "<deleted>" {
		t.Fatal("a restarted peer did not catch up")
	}
	n.Reap(time.Now().Add(2 * mesh.DefaultTombstoneTTL))
	if value(a, "x") != "<none>" {
		t.Fatal("tombstone not reaped")
	}
	n.Leave("b")
	for _, p := range a.Peers() {
		if p.Name == "b" && p.State != mesh.StateLeft {
			t.Fatalf("b is %s, want left", p.State)
		}
	}
}
