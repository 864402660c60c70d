package datapath

import (
	"net/netip"
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	tests := []struct {
		id, bridge, vxlan, host, cont string
	}{
		{"abc", "wgb-abc", "wgx-abc", "wgv-abc", "wgc-abc"},
		{"0123456789abcdef0123", "wgb-0123456789a", "wgx-0123456789a", "wgv-0123456789a", "wgc-0123456789a"},
	}
	for _, tc := range tests {
		h, c := VethNames(tc.id)
		got := []string{BridgeName(tc.id), VXLANName(tc.id), h, c}
		want := []string{tc.bridge, tc.vxlan, tc.host, tc.cont}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("id %q: name %d = %q, want %q", tc.id, i, got[i], want[i])
			}
			if len(got[i]) > 15 {
				t.Errorf("name %q longer than IFNAMSIZ-1", got[i])
			}
		}
		if !strings.HasPrefix(BridgeName(tc.id), BridgePrefix) {
			t.Errorf("bridge of %q lacks prefix", tc.id)
		}
	}
}

func TestNetworkIDFromBridge(t *testing.T) {
	long := "0123456789abcdef0123"
	tests := []struct{ name, alias, want string }{
		{BridgeName(long), long, long},
		{BridgeName(long), "", "0123456789a"},
		{BridgeName(long), "someone-else", "0123456789a"},
		{"wgb-short", "short", "short"},
	}
	for _, tc := range tests {
		if got := networkIDFromBridge(tc.name, tc.alias); got != tc.want {
			t.Errorf("networkIDFromBridge(%q, %q) = %q, want %q", tc.name, tc.alias, got, tc.want)
		}
	}
}

func TestOverlayMTU(t *testing.T) {
	tests := []struct {
		link int
		vtep string
		want int
	}{
		{0, "10.0.0.1", 1450},
		{1500, "10.0.0.1", 1450},
		{9000, "10.0.0.1", 8950},
		{1500, "fd00::1", 1430},
	}
	for _, tc := range tests {
		if got := overlayMTU(tc.link, netip.MustParseAddr(tc.vtep)); got != tc.want {
			t.Errorf("overlayMTU(%d, %s) = %d, want %d", tc.link, tc.vtep, got, tc.want)
		}
	}
}

func TestNetworkValidate(t *testing.T) {
	subnet := netip.MustParsePrefix("10.1.0.0/24")
	tests := []struct {
		name string
		n    Network
		ok   bool
	}{
		{"minimal", Network{ID: "a"}, true},
		{"no id", Network{}, false},
		{"vni too big", Network{ID: "a", VNI: 1 << 24}, false},
		{"gateway without subnet", Network{ID: "a", Gateway: netip.MustParseAddr("10.1.0.1")}, false},
		{"gateway", Network{ID: "a", Gateway: netip.MustParseAddr("10.1.0.1"), Subnet: subnet}, true},
		{"bad port", Network{ID: "a", Port: 70000}, false},
	}
	for _, tc := range tests {
		if err := tc.n.validate(); (err == nil) != tc.ok {
			t.Errorf("%s: validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
