package datapath

import (
	"net"
	"net/netip"
	"testing"
)

func TestUsableDropsOnlyBadRemotes(t *testing.T) {
	vtep := netip.MustParseAddr("192.0.2.1")
	mac := func(s string) net.HardwareAddr { m, _ := net.ParseMAC(s); return m }
	st := remoteState{
		remotes: []Remote{
			{IP: netip.MustParseAddr("10.0.0.2"), MAC: mac("02:00:00:00:00:02"), VTEP: vtep},
			{IP: netip.MustParseAddr("10.0.0.3"), MAC: mac("02:00:00:00:00:03:04:05"), VTEP: vtep},
			{IP: netip.MustParseAddr("10.0.0.4"), MAC: mac("01:00:5e:00:00:04"), VTEP: vtep},
			{IP: netip.MustParseAddr("10.0.0.5"), MAC: mac("00:00:00:00:00:00"), VTEP: vtep},
			{IP: netip.MustParseAddr("10.0.0.6"), MAC: mac("02:00:00:00:00:06")},
		},
		flood: []netip.Addr{vtep, {}, netip.IPv4Unspecified()},
	}
	ok, bad := st.usable()
	if len(ok.remotes) != 1 || ok.remotes[0].IP != netip.MustParseAddr("10.0.0.2") || len(ok.flood) != 1 {
		t.Fatalf("usable kept %+v", ok)
	}
	if len(bad) != 6 {
		t.Fatalf("%d reasons, want 6: %q", len(bad), bad)
	}
}
