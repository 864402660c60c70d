package reconcile

import (
	"fmt"
	"net/netip"
)

// FamilyMismatch says why this host, whose underlay address is self, sends
// no VXLAN to peer at addr: a VXLAN device sends from one address family, so
// a cluster whose hosts advertise IPv4 and IPv6 addresses is split in two. It
// is nil when both addresses are of one family (or either is unknown).
func FamilyMismatch(peer string, addr, self netip.Addr) error {
	addr, self = addr.Unmap(), self.Unmap()
	if !addr.IsValid() || !self.IsValid() || addr.Is4() == self.Is4() {
		return nil
	}
	return fmt.Errorf("host %q advertises %s and this host %s: VXLAN cannot cross between IPv4 and IPv6, so the "+
		"networks do not reach that host; give every host an address of one family (ADVERTISE_ADDR)", peer, addr, self)
}
