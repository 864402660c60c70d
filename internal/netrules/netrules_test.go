package netrules

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestCheckSubnet(t *testing.T) {
	for _, tc := range []struct {
		subnet string
		want   string // substring of the error; "" = accepted
	}{
		{"10.1.0.0/24", ""},
		{"192.168.0.0/16", ""},
		{"10.0.0.0/8", ""},
		{"10.1.0.0/30", ""},
		{"127.0.0.0/24", "loopback"},
		{"169.254.169.0/24", "link-local"},
		{"169.254.0.0/24", "link-local"},
		{"224.1.0.0/24", "multicast"},
		{"0.0.0.0/8", "this network"},
		{"240.0.0.0/24", "reserved"},
		{"255.255.255.0/24", "reserved"},
		{"10.1.0.0/31", "prefix"},
		{"8.0.0.0/7", "prefix"},
		{"10.1.0.5/24", "host bits"},
		{"fd00::/64", "not IPv4"},
	} {
		err := CheckSubnet(netip.MustParsePrefix(tc.subnet))
		checkErr(t, tc.subnet, err, tc.want)
	}
	checkErr(t, "zero", CheckSubnet(netip.Prefix{}), "missing")
}

func TestCheckGateway(t *testing.T) {
	s := netip.MustParsePrefix("10.1.0.0/24")
	for _, tc := range []struct{ gw, want string }{
		{"10.1.0.1", ""},
		{"10.1.0.254", ""},
		{"10.1.0.0", "network or broadcast"},
		{"10.1.0.255", "network or broadcast"},
		{"10.2.0.1", "outside"},
		{"127.0.0.1", "loopback"},
		{"224.0.0.1", "multicast"},
	} {
		checkErr(t, tc.gw, CheckGateway(s, netip.MustParseAddr(tc.gw)), tc.want)
	}
}

func TestParseMAC(t *testing.T) {
	for _, tc := range []struct{ mac, want string }{
		{"02:42:ac:11:00:02", ""},
		{"02:42:ac:11:00:02:00:01", "6-byte"},
		{"01:00:5e:00:00:01", "multicast"},
		{"ff:ff:ff:ff:ff:ff", "multicast"},
		{"00:00:00:00:00:00", "zeros"},
		{"nonsense", "6-byte"},
	} {
		_, err := ParseMAC(tc.mac)
		checkErr(t, tc.mac, err, tc.want)
	}
}

func TestCheckDNSName(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"web", ""},
		{"web_1", ""},
		{"github.com", ""},
		{"a." + strings.Repeat("b", 63), ""},
		{"", "empty"},
		{strings.Repeat("a", 64), "label"},
		{strings.Repeat("a.", 127) + "a", "longer"},
		{"a..b", "label"},
		{"bad name", "label"},
		{"trailing.", "label"},
		{"nul\x00", "label"},
	} {
		checkErr(t, tc.name, CheckDNSName(tc.name), tc.want)
	}
}

func TestCheckNetworkNameAndVNI(t *testing.T) {
	checkErr(t, "net1", CheckNetworkName("net1"), "")
	checkErr(t, "my.net-2_x", CheckNetworkName("my.net-2_x"), "")
	checkErr(t, "-x", CheckNetworkName("-x"), "not a Docker network name")
	checkErr(t, "a/b", CheckNetworkName("a/b"), "not a Docker network name")
	checkErr(t, "long", CheckNetworkName(strings.Repeat("n", 129)), "longer")
	checkErr(t, "vni 0", CheckVNI(0), "outside")
	checkErr(t, "vni max", CheckVNI(MaxVNI), "")
	checkErr(t, "vni over", CheckVNI(MaxVNI+1), "outside")
}

func checkErr(t *testing.T, what string, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("%s: refused: %v", what, err)
	case want != "" && err == nil:
		t.Errorf("%s: accepted, want error containing %q", what, want)
	case want != "" && (!strings.Contains(err.Error(), want) || !errors.Is(err, ErrRefused)):
		t.Errorf("%s: error %q, want one containing %q wrapping ErrRefused", what, err, want)
	}
}
