package ipconv

import (
	"net/netip"
	"testing"
)

func TestConversions(t *testing.T) {
	if IP(netip.Addr{}) != nil || IPNet(netip.Prefix{}) != nil {
		t.Fatal("zero values convert to non-nil")
	}
	if ip := IP(netip.MustParseAddr("10.1.2.3")); len(ip) != 4 || ip.String() != "10.1.2.3" {
		t.Errorf("IP = %v (%d bytes)", ip, len(ip))
	}
	if n := IPNet(netip.MustParsePrefix("10.1.2.3/24")); n.String() != "10.1.2.3/24" || len(n.IP) != 4 {
		t.Errorf("IPNet = %v", n)
	}
}
