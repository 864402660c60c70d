package datapath

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Sandboxes looks into containers' network namespaces, read-only, through
// a netlink handle bound to the namespace (no setns on any thread). The
// zero value is ready to use.
type Sandboxes struct{}

// HasRoute reports whether the network namespace at path (Docker's sandbox
// key of a container) has a route to exactly dst/32 (an IPv6 dst: /128) in
// its main table.
func (Sandboxes) HasRoute(path string, dst netip.Addr) (bool, error) {
	if !dst.IsValid() || dst.Is4In6() {
		return false, fmt.Errorf("route lookup in sandbox %s: %s is not an IPv4 or IPv6 address", path, dst)
	}
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return false, fmt.Errorf("open sandbox %s: %w", path, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return false, fmt.Errorf("netlink in sandbox %s: %w", path, err)
	}
	defer h.Close()
	family := netlink.FAMILY_V4
	if dst.Is6() {
		family = netlink.FAMILY_V6
	}
	filter := &netlink.Route{Dst: &net.IPNet{IP: dst.AsSlice(), Mask: net.CIDRMask(dst.BitLen(), dst.BitLen())},
		Table: unix.RT_TABLE_MAIN}
	routes, err := h.RouteListFiltered(family, filter, netlink.RT_FILTER_DST|netlink.RT_FILTER_TABLE)
	if err != nil {
		return false, fmt.Errorf("list routes to %s in sandbox %s: %w", dst, path, err)
	}
	return len(routes) > 0, nil
}
