package ipalloc

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/weavego/weavego/internal/netrules"
)

// CheckRange6 reports, in a sentence, whether s may be IPALLOC_RANGE6: a
// masked IPv6 prefix that the weavego network rules accept, at most a /64
// (fresh IPv6 subnets are /64s of it).
func CheckRange6(s string) error {
	r, err := netip.ParsePrefix(s)
	if err != nil {
		return fmt.Errorf("%q is not an IPv6 CIDR such as %s", s, DefaultRange6)
	}
	if err := netrules.CheckSubnet6(r); err != nil {
		return err
	}
	if r.Bits() > DefaultSubnetBits6 {
		return fmt.Errorf("%s is smaller than the /%d each IPv6 network gets; give a /%d or a larger range",
			s, DefaultSubnetBits6, DefaultSubnetBits6)
	}
	return nil
}

// freeSubnet6 picks the first /DefaultSubnetBits6 subnet of IPALLOC_RANGE6
// that overlaps no known pool. A /64 is numbered by the high 64 bits of its
// address; a known pool larger than a /64 is skipped whole, so the search
// takes at most one step per known pool.
func (a *Allocator) freeSubnet6() (netip.Prefix, bool) {
	var used []netip.Prefix
	for id := range a.knownPools() {
		if p, err := netip.ParsePrefix(id); err == nil && p.Addr().Is6() {
			used = append(used, p)
		}
	}
	base := high64(a.range6.Addr())
	n := uint64(1) << (DefaultSubnetBits6 - a.range6.Bits()) // a range of /0 is refused by CheckRange6
	for i := uint64(0); i < n; {
		c := prefixFromHigh(base+i, DefaultSubnetBits6)
		next := i + 1
		free := true
		for _, u := range used {
			if !u.Overlaps(c) {
				continue
			}
			free = false
			if u.Bits() < DefaultSubnetBits6 {
				end := high64(u.Masked().Addr()) + uint64(1)<<(DefaultSubnetBits6-u.Bits())
				if end > base+next { // no wrap: u lies inside or across the range
					next = end - base
				}
			}
		}
		if free {
			return c, true
		}
		if next <= i { // wrapped: nothing after
			break
		}
		i = next
	}
	return netip.Prefix{}, false
}

func high64(a netip.Addr) uint64 {
	b := a.As16()
	return binary.BigEndian.Uint64(b[:8])
}

func prefixFromHigh(hi uint64, bits int) netip.Prefix {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], hi)
	return netip.PrefixFrom(netip.AddrFrom16(b), bits)
}
