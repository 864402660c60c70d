package datapath

import (
	"net"
	"net/netip"
	"strings"
	"testing"
)

func TestPlanDirect(t *testing.T) {
	router := net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	peerMAC := net.HardwareAddr{0x02, 0, 0, 0, 0, 2}
	cMAC := net.HardwareAddr{0x02, 0x42, 0, 0, 0, 3}
	near, far, old := netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("198.51.100.2"), netip.MustParseAddr("192.0.2.3")
	segment := func(v netip.Addr) string {
		if v == far {
			return "the route goes through a gateway"
		}
		return ""
	}
	st := remoteState{remotes: []Remote{
		{IP: netip.MustParseAddr("10.1.0.2"), MAC: cMAC, VTEP: near, DirectMAC: peerMAC},
		{IP: netip.MustParseAddr("fd00::2"), MAC: cMAC, VTEP: near, DirectMAC: peerMAC},
		{IP: netip.MustParseAddr("10.1.0.3"), MAC: cMAC, VTEP: far, DirectMAC: peerMAC},
		{IP: netip.MustParseAddr("10.1.0.4"), MAC: cMAC, VTEP: old},
		{IP: netip.MustParseAddr("10.1.0.5"), MAC: cMAC, VTEP: near, DirectMAC: net.HardwareAddr{0x01, 0, 0, 0, 0, 1}},
	}, flood: []netip.Addr{near, far}}

	p := planDirect(st, directEnv{router: router, segment: segment})
	if len(p.direct) != 1 || p.direct[0].IP != netip.MustParseAddr("10.1.0.2") || p.direct[0].MAC.String() != peerMAC.String() {
		t.Fatalf("direct = %v, want only 10.1.0.2 at %s", p.direct, peerMAC)
	}
	if len(p.vxlan.remotes) != len(st.remotes) || len(p.vxlan.flood) != 2 {
		t.Fatalf("VXLAN state lost remotes or flood entries: %+v", p.vxlan)
	}
	for _, r := range p.vxlan.remotes {
		wantRouter := r.IP == netip.MustParseAddr("10.1.0.2")
		if (r.neighMAC().String() == router.String()) != wantRouter {
			t.Errorf("%s: neighbour MAC %s (router %v)", r.IP, r.neighMAC(), wantRouter)
		}
		if r.MAC.String() != cMAC.String() {
			t.Errorf("%s: FDB MAC changed to %s", r.IP, r.MAC)
		}
	}
	if p.paths[near] != PathDirect || !strings.Contains(p.paths[far], "gateway") || !strings.HasPrefix(p.paths[old], "vxlan: the peer publishes no") {
		t.Errorf("paths = %v", p.paths)
	}
	if got := planDirect(st, directEnv{}); len(got.direct) != 0 || len(got.paths) != 0 || got.vxlan.remotes[0].router != nil {
		t.Errorf("a network that is not direct here planned %+v", got)
	}
	np := planNeigh(7, nil, p.vxlan)
	if len(np.conflicts) != 0 {
		t.Errorf("conflicts: %v", np.conflicts)
	}
}
