package main

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"

	"github.com/weavego/weavego/datapath"
)

// underlayAddr finds this host's underlay address: the address of the
// interface that holds the default route, else the first global unicast
// IPv4 address of any interface that is up.
func underlayAddr() (netip.Addr, error) {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("list routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst != nil && r.Dst.String() != "0.0.0.0/0" {
			continue
		}
		if a, ok := firstGlobal(r.LinkIndex); ok {
			return a, nil
		}
	}
	links, err := netlink.LinkList()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("list links: %w", err)
	}
	for _, l := range links {
		if l.Attrs().Flags&net.FlagUp == 0 || isOurs(l.Attrs().Name) || l.Type() == "bridge" {
			continue
		}
		if a, ok := firstGlobal(l.Attrs().Index); ok {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("found no global IPv4 address: set ADVERTISE_ADDR to this host's address on the network between the hosts")
}

func firstGlobal(linkIndex int) (netip.Addr, bool) {
	l, err := netlink.LinkByIndex(linkIndex)
	if err != nil {
		return netip.Addr{}, false
	}
	addrs, err := netlink.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return netip.Addr{}, false
	}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP.To4())
		if ok && ip.IsGlobalUnicast() {
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
