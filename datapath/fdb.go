package datapath

import (
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// zeroMAC is the FDB key for head-end replication of broadcast, unknown
// unicast and multicast: one all-zero entry per flood VTEP.
var zeroMAC = net.HardwareAddr{0, 0, 0, 0, 0, 0}

func isZeroMAC(mac net.HardwareAddr) bool {
	for _, b := range mac {
		if b != 0 {
			return false
		}
	}
	return true
}

// fdbEntry is the permanent VXLAN FDB entry mac -> vtep on device index
// (bridge fdb ... dev DEV dst VTEP self permanent).
func fdbEntry(index int, mac net.HardwareAddr, vtep net.IP) *netlink.Neigh {
	return &netlink.Neigh{
		LinkIndex:    index,
		Family:       unix.AF_BRIDGE,
		Flags:        netlink.NTF_SELF,
		State:        netlink.NUD_PERMANENT,
		HardwareAddr: mac,
		IP:           vtep,
	}
}

// neighEntry is the permanent neighbour entry ip -> mac on device index.
func neighEntry(index int, ip net.IP, mac net.HardwareAddr) *netlink.Neigh {
	family := unix.AF_INET6
	if ip.To4() != nil {
		family = unix.AF_INET
	}
	return &netlink.Neigh{
		LinkIndex:    index,
		Family:       family,
		State:        netlink.NUD_PERMANENT,
		IP:           ip,
		HardwareAddr: mac,
	}
}

// isOurFDB reports whether a dumped FDB entry belongs to the VXLAN device's
// own table (not the bridge's entries for the port).
func isOurFDB(n netlink.Neigh, index int) bool {
	return n.LinkIndex == index && n.Flags&netlink.NTF_SELF != 0 && n.Flags&netlink.NTF_MASTER == 0
}
