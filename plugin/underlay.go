package main

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/weavego/weavego/datapath"
)

// underlayAddr finds this host's underlay address: the address of the
// interface that holds the IPv4 default route, else of the one that holds
// the IPv6 default route, else the first global unicast address (IPv4
// first) of any interface that is up.
func underlayAddr() (netip.Addr, error) {
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		routes, err := netlink.RouteList(nil, fam)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("list routes: %w", err)
		}
		for _, r := range routes {
			if r.Dst != nil && r.Dst.String() != "0.0.0.0/0" && r.Dst.String() != "::/0" {
				continue
			}
			if a, ok := firstGlobal(r.LinkIndex, fam); ok {
				return a, nil
			}
		}
	}
	links, err := netlink.LinkList()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("list links: %w", err)
	}
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		for _, l := range links {
			if l.Attrs().Flags&net.FlagUp == 0 || isOurs(l.Attrs().Name) || l.Type() == "bridge" {
				continue
			}
			if a, ok := firstGlobal(l.Attrs().Index, fam); ok {
				return a, nil
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("found no global IPv4 or IPv6 address: set ADVERTISE_ADDR to this host's address on the network between the hosts")
}

// firstGlobal is the first global unicast address of family fam on the
// link of index linkIndex (for IPv6, one that is not tentative or deprecated).
func firstGlobal(linkIndex, fam int) (netip.Addr, bool) {
	l, err := netlink.LinkByIndex(linkIndex)
	if err != nil {
		return netip.Addr{}, false
	}
	addrs, err := netlink.AddrList(l, fam)
	if err != nil {
		return netip.Addr{}, false
	}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		ip = ip.Unmap()
		if ok && ip.IsGlobalUnicast() && ip.Is4() == (fam == netlink.FAMILY_V4) &&
			a.Flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DEPRECATED) == 0 {
			return ip, true
		}
	}
	return netip.Addr{}, false
}

// isOurs tells weavego's own links, which are never the underlay.
func isOurs(name string) bool {
	for _, p := range []string{datapath.BridgePrefix, datapath.VXLANPrefix, datapath.HostVethPrefix, datapath.ContVethPrefix} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
