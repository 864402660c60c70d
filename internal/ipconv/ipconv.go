// Package ipconv converts between weavego's net/netip values and the net.IP
// forms of the libraries underneath: netlink, memberlist and miekg/dns.
// weavego's own APIs take netip; the packages that call those libraries
// convert with these functions at the call, and nowhere else.
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

// Addr returns ip as a netip.Addr, an IPv4-mapped IPv6 form as plain IPv4,
// or the zero Addr for a nil or malformed ip.
func Addr(ip net.IP) netip.Addr {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}
	}
	return a.Unmap()
}

// Prefix returns n as a netip.Prefix, its address as given (not masked), or
// the zero Prefix for a nil or malformed n.
func Prefix(n *net.IPNet) netip.Prefix {
	if n == nil {
		return netip.Prefix{}
	}
	a := Addr(n.IP)
	ones, bits := n.Mask.Size()
	if a.Is4() && bits == 128 { // an IPv4 address with a mask of IPv6 length
		ones -= 96
	}
	if !a.IsValid() || bits == 0 || ones < 0 || ones > a.BitLen() {
		return netip.Prefix{}
	}
	return netip.PrefixFrom(a, ones)
}
