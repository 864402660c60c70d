package datapath

import (
	"errors"
	"net"
	"testing"

	"github.com/vishvananda/netlink"
)

func TestEndpoints(t *testing.T) {
	tn := newTestNS(t)
	n := testNetwork("epnet", 0, "")
	n.MTU = 1400
	if _, err := tn.m.EnsureNetwork(n); err != nil {
		t.Fatal(err)
	}
	nn := tn.net(t, n.ID)
	br := nn.link(t, BridgeName(n.ID))
	tests := []struct {
		name    string
		ep      Endpoint
		wantMTU int
	}{
		{"network mtu, kernel mac", Endpoint{NetworkID: n.ID, ID: "0123456789abcdef"}, 1400},
		{"own mtu and mac", Endpoint{NetworkID: n.ID, ID: "fedcba", MAC: mustMAC("02:42:0a:14:00:05"), MTU: 1300}, 1300},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var hostIf, contIf string
			for i := 0; i < 2; i++ {
				h, c, err := tn.m.CreateEndpoint(tc.ep)
				if err != nil {
					t.Fatalf("CreateEndpoint #%d: %v", i, err)
				}
				hostIf, contIf = h, c
			}
			wantHost, wantCont := VethNames(tc.ep.ID)
			if hostIf != wantHost || contIf != wantCont {
				t.Errorf("names = %s, %s; want %s, %s", hostIf, contIf, wantHost, wantCont)
			}
			host, cont := nn.link(t, hostIf), tn.link(t, contIf) // host end in the network namespace, container end here
			if host.Attrs().MasterIndex != br.Attrs().Index || host.Attrs().Flags&net.FlagUp == 0 || host.Attrs().MTU != tc.wantMTU {
				t.Errorf("host end: master %d up %v mtu %d; want %d, up, %d", host.Attrs().MasterIndex,
					host.Attrs().Flags&net.FlagUp != 0, host.Attrs().MTU, br.Attrs().Index, tc.wantMTU)
			}
			if cont.Attrs().MTU != tc.wantMTU || (tc.ep.MAC != nil && cont.Attrs().HardwareAddr.String() != tc.ep.MAC.String()) {
				t.Errorf("container end: mtu %d mac %s; want %d, %s", cont.Attrs().MTU, cont.Attrs().HardwareAddr, tc.wantMTU, tc.ep.MAC)
			}
			for i := 0; i < 2; i++ {
				if err := tn.m.DeleteEndpoint(n.ID, tc.ep.ID); err != nil {
					t.Fatalf("DeleteEndpoint #%d: %v", i, err)
				}
			}
			nn.absent(t, hostIf)
			tn.absent(t, hostIf)
			tn.absent(t, contIf)
		})
	}
}

func TestCreateEndpointRepairsAndFails(t *testing.T) {
	tn := newTestNS(t)
	if _, _, err := tn.m.CreateEndpoint(Endpoint{NetworkID: "missing", ID: "ep"}); !errors.Is(err, ErrNetworkNotFound) {
		t.Errorf("CreateEndpoint on missing network = %v, want ErrNetworkNotFound", err)
	}
	n := testNetwork("epnet2", 0, "")
	if _, err := tn.m.EnsureNetwork(n); err != nil {
		t.Fatal(err)
	}
	hostIf, _ := VethNames("ep")
	nn := tn.net(t, n.ID)
	// A stray bridge squats the host end's name.
	attrs := netlink.NewLinkAttrs()
	attrs.Name = hostIf
	if err := nn.h.LinkAdd(&netlink.Bridge{LinkAttrs: attrs}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tn.m.CreateEndpoint(Endpoint{NetworkID: n.ID, ID: "ep"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := nn.link(t, hostIf).(*netlink.Veth); !ok {
		t.Errorf("%s was not replaced by a veth", hostIf)
	}
}
