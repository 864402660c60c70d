package ipconv

import (
	"net"
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

func TestToNetip(t *testing.T) {
	for _, c := range []struct {
		in   net.IP
		want string
	}{
		{nil, "invalid IP"},
		{net.IP{1, 2, 3}, "invalid IP"},
		{net.ParseIP("10.1.2.3"), "10.1.2.3"}, // 16-byte form
		{net.IPv4(10, 1, 2, 3).To4(), "10.1.2.3"},
		{net.ParseIP("fd00::1"), "fd00::1"},
	} {
		if got := Addr(c.in).String(); got != c.want {
			t.Errorf("Addr(%v) = %s, want %s", c.in, got, c.want)
		}
	}
	_, v4, _ := net.ParseCIDR("10.1.0.0/16")
	for _, c := range []struct {
		in   *net.IPNet
		want string
	}{
		{nil, "invalid Prefix"},
		{v4, "10.1.0.0/16"},
		{&net.IPNet{IP: net.ParseIP("10.1.2.3"), Mask: net.CIDRMask(120, 128)}, "10.1.2.3/24"},
		{&net.IPNet{IP: net.ParseIP("fd00::1"), Mask: net.CIDRMask(64, 128)}, "fd00::1/64"},
		{&net.IPNet{IP: net.IPv4(10, 1, 2, 3).To4(), Mask: net.IPMask{255, 0, 255, 0}}, "invalid Prefix"},
	} {
		if got := Prefix(c.in).String(); got != c.want {
			t.Errorf("Prefix(%v) = %s, want %s", c.in, got, c.want)
		}
	}
	if p := netip.MustParsePrefix("10.1.2.3/24"); Prefix(IPNet(p)) != p {
		t.Errorf("Prefix(IPNet(%s)) = %s", p, Prefix(IPNet(p)))
	}
}
