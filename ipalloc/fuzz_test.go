package ipalloc

import (
	"net/netip"
	"testing"
)

// FuzzParsePoolRequest feeds Docker's pool fields to the parser: it must
// never panic, and what it accepts must be a consistent pool.
func FuzzParsePoolRequest(f *testing.F) {
	for _, s := range [][2]string{{"10.1.0.0/24", ""}, {"10.1.0.0/24", "10.1.0.128/25"}, {"fd00::/64", ""}, {"10.1.0.0/31", ""}, {"x", "y"}, {"::ffff:10.0.0.0/104", ""}} {
		f.Add(s[0], s[1], false)
		f.Add(s[0], s[1], true)
	}
	f.Fuzz(func(t *testing.T, subnet, ipRange string, v6 bool) {
		info, err := parsePoolRequest(PoolRequest{Subnet: subnet, IPRange: ipRange, V6: v6})
		if err != nil {
			return
		}
		p, err := newPool(poolRecord{Info: info})
		if err != nil {
			t.Fatalf("accepted %q %q but cannot build it: %v", subnet, ipRange, err)
		}
		if !p.sp.subnet.Contains(netip.MustParsePrefix(info.Range).Addr()) || !p.sp.subnet.Contains(p.gw) {
			t.Fatalf("inconsistent pool %+v", info)
		}
		if p.total() == 0 && p.sp.size > 3 {
			t.Fatalf("pool %+v has no leasable address", info)
		}
	})
}
