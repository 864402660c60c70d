package ipamdriver

import (
	"net/netip"

	"github.com/weavego/weavego/internal/netrules"
)

// checkPool applies weavego's network rules (package netrules) to the
// subnet and ip-range a user asked for, so that `docker network create`
// refuses, with a sentence, what every other host would refuse to create.
// A string that does not parse is left to the allocator, which says how to
// write a CIDR.
// An IPv6 subnet (v6: Docker's --ipv6 pool) obeys the IPv6 rules.
func checkPool(pool, subPool string, v6 bool) error {
	subnet, err := netip.ParsePrefix(pool)
	if err != nil || subnet.Addr().Is4() == v6 {
		return nil //nolint:nilerr // left to the allocator, which says how to write a CIDR and which family it needs
	}
	subnet = subnet.Masked()
	r, rerr := netip.ParsePrefix(subPool)
	if v6 {
		if err := netrules.CheckSubnet6(subnet); err != nil {
			return err
		}
		if rerr == nil {
			return netrules.CheckRange6(subnet, r.Masked())
		}
		return nil
	}
	if err := netrules.CheckSubnet(subnet); err != nil {
		return err
	}
	if rerr == nil {
		return netrules.CheckRange(subnet, r.Masked())
	}
	return nil
}

// checkGateway refuses a --gateway that no bridge may own (loopback,
// multicast, link-local and the like); the allocator checks it is inside
// the pool.
func checkGateway(ip netip.Addr) error {
	if a := ip.Unmap(); a.Is4() {
		return netrules.CheckUnicast(a)
	}
	return netrules.CheckUnicast6(ip)
}

// maxNameLen bounds the endpoint name kept with a lease; Docker's container
// names are far shorter.
const maxNameLen = 255

// endpointName returns the endpoint name Docker passed (Docker 29 and
// later), or "" if it passed none or one no container could have.
func endpointName(opts map[string]string) string {
	n := opts[optName]
	if len(n) > maxNameLen {
		return ""
	}
	return n
}
