package netrules

import "net/netip"

// Bounds of a weavego network's IPv6 subnet.
const (
	// MinPrefixBits6 is the shortest IPv6 prefix (largest subnet) accepted.
	MinPrefixBits6 = 16
	// MaxPrefixBits6 is the longest IPv6 prefix accepted: room for the
	// subnet-router anycast address, a gateway and containers.
	MaxPrefixBits6 = 124
)

// specials6 are the IPv6 blocks that are not unicast space a bridge may own.
var specials6 = [...]special{
	{netip.MustParsePrefix("::/8"), "reserved (::/8: unspecified, loopback and IPv4-mapped addresses)"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// CheckSubnet6 reports whether s may be a weavego network's IPv6 subnet: a
// masked IPv6 prefix of MinPrefixBits6..MaxPrefixBits6 bits outside ::/8,
// link-local and multicast space.
func CheckSubnet6(s netip.Prefix) error {
	if !s.IsValid() {
		return refuse("the IPv6 subnet is missing or not a CIDR such as fd00:1::/64")
	}
	if !s.Addr().Is6() || s.Addr().Is4In6() || s.Addr().Zone() != "" {
		return refuse("subnet %s is not an IPv6 subnet; pick one such as fd00:1::/64", s)
	}
	if s.Masked() != s {
		return refuse("subnet %s has host bits set: write it as %s", s, s.Masked())
	}
	if s.Bits() < MinPrefixBits6 || s.Bits() > MaxPrefixBits6 {
		return refuse("subnet %s has a /%d prefix: weavego IPv6 subnets need /%d to /%d (a /64 is usual); pick another subnet",
			s, s.Bits(), MinPrefixBits6, MaxPrefixBits6)
	}
	if what := specialOf(s); what != "" {
		return refuse("subnet %s is %s: weavego networks need unicast space; pick another subnet", s, what)
	}
	return nil
}

// CheckUnicast6 reports whether a is an IPv6 address a container or a
// gateway may have on a weavego network: not in ::/8, link-local or
// multicast space, and without a zone.
func CheckUnicast6(a netip.Addr) error {
	if !a.IsValid() {
		return refuse("the IPv6 address is missing")
	}
	if !a.Is6() || a.Is4In6() || a.Zone() != "" {
		return refuse("address %s is not a global or unique local IPv6 address", a)
	}
	if what := specialOf(netip.PrefixFrom(a, 128)); what != "" {
		return refuse("address %s is %s: weavego needs a unicast address; pick another one", a, what)
	}
	return nil
}

// CheckGateway6 reports whether gw may be the IPv6 gateway of subnet s
// (itself valid): a unicast address inside s other than its subnet-router
// anycast address (the first one).
func CheckGateway6(s netip.Prefix, gw netip.Addr) error {
	if err := CheckUnicast6(gw); err != nil {
		return err
	}
	if !s.Contains(gw) {
		return refuse("gateway %s is outside subnet %s: pick an address inside it", gw, s)
	}
	if gw == s.Masked().Addr() {
		return refuse("gateway %s is the subnet-router anycast address of %s: pick another address", gw, s)
	}
	return nil
}

// CheckRange6 reports whether r may be the IPv6 ip-range of subnet s: a
// masked IPv6 prefix inside s.
func CheckRange6(s, r netip.Prefix) error {
	if !r.IsValid() || !r.Addr().Is6() || r.Addr().Is4In6() {
		return refuse("ip-range %s is not an IPv6 CIDR", r)
	}
	if r.Bits() < s.Bits() || !s.Contains(r.Addr()) {
		return refuse("ip-range %s is not inside subnet %s", r, s)
	}
	return nil
}

// CheckInside6 reports whether a is a unicast IPv6 address inside subnet s.
func CheckInside6(s netip.Prefix, a netip.Addr) error {
	if err := CheckUnicast6(a); err != nil {
		return err
	}
	if !s.Contains(a) {
		return refuse("address %s is outside subnet %s", a, s)
	}
	return nil
}
