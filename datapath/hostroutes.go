package datapath

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/weavego/weavego/internal/ipconv"
	"golang.org/x/sys/unix"
)

// HostRoute is an IPv4 prefix this host already reaches outside weavego:
// the subnet of one of its own addresses, or a route of its main table.
type HostRoute struct {
	Prefix netip.Prefix
	// Dev is the device of the address or route; "" for a route without one.
	Dev string
	// Source is "address" or "route".
	Source string
}

// String describes the route for a log line.
func (r HostRoute) String() string {
	if r.Dev == "" {
		return fmt.Sprintf("%s %s", r.Source, r.Prefix)
	}
	return fmt.Sprintf("%s %s on %s", r.Source, r.Prefix, r.Dev)
}

// HostRoutes lists the IPv4 prefixes of this host's addresses and
// main-table routes, except those on weavego's own devices and the default
// route (which overlaps everything and is never a reason to refuse).
func (m *Manager) HostRoutes() ([]HostRoute, error) {
	links, err := m.nl.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	dev := map[int]string{}
	for _, l := range links {
		dev[l.Attrs().Index] = l.Attrs().Name
	}
	addrs, err := m.nl.AddrList(nil, unix.AF_INET)
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	var out []HostRoute
	for _, a := range addrs {
		if p, ok := prefixOf(a.IPNet); ok && !ownDevice(dev[a.LinkIndex]) {
			out = append(out, HostRoute{Prefix: p.Masked(), Dev: dev[a.LinkIndex], Source: "address"})
		}
	}
	routes, err := m.nl.RouteList(nil, unix.AF_INET)
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	for _, r := range routes {
		if p, ok := prefixOf(r.Dst); ok && p.Bits() > 0 && !ownDevice(dev[r.LinkIndex]) {
			out = append(out, HostRoute{Prefix: p.Masked(), Dev: dev[r.LinkIndex], Source: "route"})
		}
	}
	return out, nil
}

// ownDevice reports a device weavego created (bridge, VXLAN device, veth).
func ownDevice(name string) bool {
	for _, p := range []string{BridgePrefix, VXLANPrefix, HostVethPrefix, ContVethPrefix} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// prefixOf is n as an IPv4 prefix; ok is false for anything else.
func prefixOf(n *net.IPNet) (p netip.Prefix, ok bool) {
	p = ipconv.Prefix(n)
	return p, p.IsValid() && p.Addr().Is4()
}
