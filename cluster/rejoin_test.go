package cluster

import (
	"net"
	"testing"
	"time"

	"github.com/weavego/weavego/mesh"
)

// A restarted plugin whose restored state has entries of a host that is not alive yet leaves the kernel's
// remote entries and allowlist alone until that host is back, or until rejoinGrace has passed.
func TestRejoinHoldsRemotes(t *testing.T) {
	for _, tc := range []struct {
		name     string
		bAlive   bool
		started  time.Duration // before now
		wantHold bool
	}{
		{"owner not back yet", false, 0, true},
		{"owner back", true, 0, false},
		{"grace over", false, rejoinGrace + time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld()
			w.entries[[2]string{KindEndpoint, "ep-b"}] = mesh.Entry{Kind: KindEndpoint, Key: "ep-b", Owner: "b",
				Version: 1, Value: []byte(`{"VNI":4097}`)}
			w.dead["b"] = !tc.bAlive
			w.addHost("a", net.IPv4(10, 0, 0, 1).To4())
			k := newFakeKernel()
			ag := New(Config{Logger: discard()}, Deps{Replica: peerView{w: w, name: "a"}, Kernel: k})
			ag.started = time.Now().Add(-tc.started)
			if err := ag.reconcileKernel(); err != nil {
				t.Fatal(err)
			}
			touched := k.vxlanPeers() != nil
			if touched == tc.wantHold {
				t.Errorf("allowlist written = %v, want %v", touched, !tc.wantHold)
			}
			if tc.wantHold {
				w.dead["b"] = false
				if err := ag.reconcileKernel(); err != nil {
					t.Fatal(err)
				}
				if k.vxlanPeers() == nil {
					t.Error("allowlist still untouched after the owner came back")
				}
			}
		})
	}
}
