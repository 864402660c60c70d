package netrules

import (
	"errors"
	"net/netip"
	"testing"
)

func TestCheckSubnet6(t *testing.T) {
	for _, tc := range []struct {
		subnet string
		want   string // substring of the error; "" = accepted
	}{
		{"fd77:6561:7665::/64", ""},
		{"2001:db8:1::/48", ""},
		{"fd00::/124", ""},
		{"fd00::/125", "prefix"},
		{"fd00::/8", "prefix"},
		{"::/64", "reserved"},
		{"::ffff:10.0.0.0/120", "not an IPv6 subnet"},
		{"fe80::/64", "link-local"},
		{"ff02::/64", "multicast"},
		{"fd00::1/64", "host bits"},
		{"10.1.0.0/24", "not an IPv6 subnet"},
	} {
		err := CheckSubnet6(netip.MustParsePrefix(tc.subnet))
		checkErr(t, tc.subnet, err, tc.want)
		if err != nil && !errors.Is(err, ErrRefused) {
			t.Errorf("%s: %v is not ErrRefused", tc.subnet, err)
		}
	}
	checkErr(t, "zero", CheckSubnet6(netip.Prefix{}), "missing")
}

func TestCheckAddr6(t *testing.T) {
	s := netip.MustParsePrefix("fd00:1::/64")
	for _, tc := range []struct {
		addr string
		want string
	}{
		{"fd00:1::2", ""},
		{"fd00:2::2", "outside"},
		{"::1", "reserved"},
		{"::ffff:10.0.0.1", "not a global"},
		{"fe80::1", "link-local"},
		{"ff02::1:ff00:2", "multicast"},
		{"10.0.0.1", "not a global"},
		{"fe80::1%eth0", "not a global"},
	} {
		checkErr(t, tc.addr, CheckInside6(s, netip.MustParseAddr(tc.addr)), tc.want)
	}
	checkErr(t, "gateway", CheckGateway6(s, netip.MustParseAddr("fd00:1::1")), "")
	checkErr(t, "anycast", CheckGateway6(s, netip.MustParseAddr("fd00:1::")), "anycast")
	checkErr(t, "range", CheckRange6(s, netip.MustParsePrefix("fd00:1::100/120")), "")
	checkErr(t, "range out", CheckRange6(s, netip.MustParsePrefix("fd00:2::/120")), "not inside")
	checkErr(t, "range v4", CheckRange6(s, netip.MustParsePrefix("10.0.0.0/24")), "not an IPv6")
}
