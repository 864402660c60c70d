package reconcile

import (
	"net/netip"
	"testing"
	"time"

	"github.com/weavego/weavego/mesh/meshtest"
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
			w := meshtest.New(meshtest.Config{})
			w.Add("a", netip.AddrFrom4([4]byte{10, 0, 0, 1}))
			w.Peer("b").Set(KindEndpoint, "ep-b", []byte(`{"VNI":4097}`))
			if !tc.bAlive {
				w.Kill("b")
			}
			k := newFakeKernel()
			ag := New(Config{}, Deps{Map: w.Peer("a"), Kernel: k})
			ag.started = time.Now().Add(-tc.started)
			if err := ag.reconcileKernel(); err != nil {
				t.Fatal(err)
			}
			touched := k.vxlanPeers() != nil
			if touched == tc.wantHold {
				t.Errorf("allowlist written = %v, want %v", touched, !tc.wantHold)
			}
			if tc.wantHold {
				w.Start("b")
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
