// Package ipconv converts weavego's net/netip values to the net.IP forms
// that datapath, dnsd and mesh still take in their APIs (netlink and
// miekg/dns need them underneath). It is the one place such conversions
// are written; it goes away when those packages take netip.
package ipconv

import (
	"net"
	"net/netip"
)

// IP returns a as a net.IP (4 bytes for IPv4), or nil for the zero Addr.
func IP(a netip.Addr) net.IP {
	if !a.IsValid() {
		return nil
	}
	return net.IP(a.AsSlice())
}

// IPNet returns p as a *net.IPNet, its address as given (not masked), or
// nil for an invalid prefix.
func IPNet(p netip.Prefix) *net.IPNet {
	if !p.IsValid() {
		return nil
	}
	return &net.IPNet{IP: IP(p.Addr()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
