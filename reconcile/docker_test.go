package reconcile

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/weavego/weavego/driver"
	"github.com/weavego/weavego/internal/dockerapi"
	"github.com/weavego/weavego/mesh/meshtest"
)

// A burst of driver calls, as one `docker run` makes, costs one Docker pass,
// not one each.
func TestDockerPassesCoalesce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := meshtest.New(meshtest.Config{})
	w.Add("h1", netip.MustParseAddr("192.0.2.1"))
	docker := &fakeDocker{networks: map[string]dockerapi.Network{}}
	a := New(Config{Resync: time.Hour}, Deps{Map: w.Peer("h1"), Kernel: newFakeKernel(), Docker: docker})
	go a.Run(ctx)
	passes := func() int {
		docker.mu.Lock()
		defer docker.mu.Unlock()
		return docker.lists
	}
	eventually(t, "the first pass", func() bool { return passes() == 1 })
	for range 6 { // within 30 ms, as the driver calls and events of one container start
		a.EndpointChanged(driver.Endpoint{}, false)
		time.Sleep(5 * time.Millisecond)
	}
	eventually(t, "a pass after the burst", func() bool { return passes() >= 2 })
	time.Sleep(200 * time.Millisecond) // room for a pass too many
	if n := passes(); n != 2 {
		t.Errorf("%d passes after a burst of 6 driver calls, want 2 (the first and one for the burst)", n)
	}
}
