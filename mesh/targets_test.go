package mesh

import (
	"context"
	"slices"
	"testing"
	"time"
)

// TestConnectAndForget: a peer started with no PEERS joins another at run
// time, keeps it as a target, and stops retrying it once forgotten.
func TestConnectAndForget(t *testing.T) {
	a := startNode(t, nodeOpts{name: "a"})
	b := startNode(t, nodeOpts{name: "b"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addr, err := a.Connect(ctx, b.addr())
	if err != nil {
		t.Fatalf("Connect(%s): %v", b.addr(), err)
	}
	if addr != b.addr() {
		t.Errorf("Connect returned %q, want %q", addr, b.addr())
	}
	waitFor(t, 5*time.Second, "both see two members", func() bool { return a.Members() == 2 && b.Members() == 2 })
	if got := a.JoinTargets(); !slices.Equal(got, []string{b.addr()}) {
		t.Errorf("targets after Connect: %v", got)
	}
	if _, err := a.Connect(ctx, b.addr()); err != nil {
		t.Errorf("Connect to a member again: %v", err)
	}
	if got := a.JoinTargets(); len(got) != 1 {
		t.Errorf("a second Connect added a duplicate target: %v", got)
	}
	if _, ok, err := a.Forget(b.addr()); err != nil || !ok {
		t.Errorf("Forget(%s) = %v, %v; want true, nil", b.addr(), ok, err)
	}
	if _, ok, _ := a.Forget(b.addr()); ok {
		t.Error("Forget of an address no longer a target reported true")
	}
	if got := a.JoinTargets(); len(got) != 0 {
		t.Errorf("targets after Forget: %v", got)
	}
}

func TestConnectRefusesMalformed(t *testing.T) {
	a := startNode(t, nodeOpts{name: "a"})
	for _, bad := range []string{"", "host:0", "a b", "h/x"} {
		if _, err := a.Connect(context.Background(), bad); err == nil {
			t.Errorf("Connect(%q) succeeded", bad)
		}
	}
	if got := a.JoinTargets(); len(got) != 0 {
		t.Errorf("malformed addresses became targets: %v", got)
	}
}

// TestConnectUnreachable: a join that fails keeps the address as a target.
func TestConnectUnreachable(t *testing.T) {
	a := startNode(t, nodeOpts{name: "a"})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := a.Connect(ctx, "127.0.0.1:1"); err == nil {
		t.Fatal("Connect to a closed port succeeded")
	}
	if got := a.JoinTargets(); !slices.Equal(got, []string{"127.0.0.1:1"}) {
		t.Errorf("targets: %v", got)
	}
}
