package datapath

import (
	"context"
	"testing"
	"time"
)

func TestDeleteEndpointAsync(t *testing.T) {
	tn := newTestNS(t)
	n := testNetwork("a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5", 0, "") // a full-length ID: Park marks its bridge
	if _, err := tn.m.EnsureNetwork(n); err != nil {
		t.Fatal(err)
	}
	nn := tn.net(t, n.ID)
	create := func(id string) {
		t.Helper()
		if _, _, err := tn.m.CreateEndpoint(Endpoint{NetworkID: n.ID, ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	gone := func(id string) {
		t.Helper()
		h, c := VethNames(id)
		nn.absent(t, h)
		tn.absent(t, c)
	}
	wait := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tn.m.WaitDeletes(ctx); err != nil {
			t.Fatal(err)
		}
	}
	create("a")
	create("b")
	tn.m.DeleteEndpointAsync(n.ID, "a")
	wait()
	gone("a")
	h, _ := VethNames("b")
	nn.link(t, h)

	// The same ID created again while its delete is pending: whichever
	// runs first, the new pair stays.
	for range 3 {
		tn.m.DeleteEndpointAsync(n.ID, "b")
		create("b")
		wait()
		nn.link(t, h)
	}

	// Park and Close wait for what is pending.
	tn.m.DeleteEndpointAsync(n.ID, "b")
	if err := tn.m.Park(context.Background()); err != nil {
		t.Fatal(err)
	}
	gone("b")
	tn.absent(t, h)
	if _, err := tn.m.EnsureNetwork(n); err != nil { // back into a namespace
		t.Fatal(err)
	}
	nn = tn.net(t, n.ID)
	create("c")
	tn.m.DeleteEndpointAsync(n.ID, "c")
	if err := tn.m.Close(); err != nil {
		t.Fatal(err)
	}
	gone("c")
	tn.m.DeleteEndpointAsync(n.ID, "d") // after Close: does nothing, and does not panic
	wait()
}
