package netrules

import (
	"errors"
	"fmt"
	"net/netip"
)

// Bounds of a weavego network's IPv4 subnet.
const (
	// MinPrefixBits is the shortest prefix (largest subnet) accepted.
	MinPrefixBits = 8
	// MaxPrefixBits is the longest prefix accepted: a /30 leaves room for
	// a gateway and one container.
	MaxPrefixBits = 30
)

// ErrRefused is wrapped by every error of this package, so callers can tell
// a refused value from other failures.
var ErrRefused = errors.New("refused by weavego's network rules")

// special is an IPv4 block no weavego network may use, and why.
type special struct {
	block netip.Prefix
	what  string
}

// specials are the IPv4 blocks that are not unicast space a bridge may own.
var specials = [...]special{
	{netip.MustParsePrefix("0.0.0.0/8"), "\"this network\" (0.0.0.0/8)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved (240.0.0.0/4, broadcast included)"},
}

// specialOf names the special block p overlaps, or "".
func specialOf(p netip.Prefix) string {
	for _, s := range specials {
		if s.block.Overlaps(p) {
			return s.what
		}
	}
	return ""
}

// CheckSubnet reports whether s may be a weavego network's subnet: a
// masked IPv4 prefix of MinPrefixBits..MaxPrefixBits bits outside loopback,
// link-local, multicast, 0.0.0.0/8 and 240.0.0.0/4.
func CheckSubnet(s netip.Prefix) error {
	if !s.IsValid() {
		return fmt.Errorf("the subnet is missing or not a CIDR such as 10.1.0.0/24: %w", ErrRefused)
	}
	if !s.Addr().Is4() {
		return fmt.Errorf("subnet %s is not IPv4: weavego networks are IPv4; pick an IPv4 subnet: %w", s, ErrRefused)
	}
	if s.Masked() != s {
		return fmt.Errorf("subnet %s has host bits set: write it as %s: %w", s, s.Masked(), ErrRefused)
	}
	if s.Bits() < MinPrefixBits || s.Bits() > MaxPrefixBits {
		return fmt.Errorf("subnet %s has a /%d prefix: weavego networks need /%d to /%d; pick another subnet: %w",
			s, s.Bits(), MinPrefixBits, MaxPrefixBits, ErrRefused)
	}
	if what := specialOf(s); what != "" {
		return fmt.Errorf("subnet %s is %s: weavego networks need unicast space; pick another subnet: %w",
			s, what, ErrRefused)
	}
	return nil
}

// CheckUnicast reports whether a is an IPv4 address a container or a
// gateway may have: not unspecified, loopback, link-local, multicast,
// 0.0.0.0/8 or 240.0.0.0/4.
func CheckUnicast(a netip.Addr) error {
	if !a.IsValid() {
		return fmt.Errorf("the address is missing: %w", ErrRefused)
	}
	a = a.Unmap()
	if !a.Is4() {
		return fmt.Errorf("address %s is not IPv4: %w", a, ErrRefused)
	}
	if what := specialOf(netip.PrefixFrom(a, 32)); what != "" {
		return fmt.Errorf("address %s is %s: weavego needs a unicast address; pick another one: %w", a, what, ErrRefused)
	}
	return nil
}

// CheckGateway reports whether gw may be the gateway of subnet s (itself
// valid): a unicast address inside s that is neither its network nor its
// broadcast address.
func CheckGateway(s netip.Prefix, gw netip.Addr) error {
	if err := CheckUnicast(gw); err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	gw = gw.Unmap()
	if !s.Contains(gw) {
		return fmt.Errorf("gateway %s is outside subnet %s: pick an address inside it: %w", gw, s, ErrRefused)
	}
	if gw == s.Masked().Addr() || gw == Broadcast(s) {
		return fmt.Errorf("gateway %s is the network or broadcast address of %s: pick another address: %w",
			gw, s, ErrRefused)
	}
	return nil
}

// CheckRange reports whether r may be the ip-range of subnet s: a masked
// prefix inside s.
func CheckRange(s, r netip.Prefix) error {
	if !r.IsValid() || !r.Addr().Is4() {
		return fmt.Errorf("ip-range %s is not an IPv4 CIDR: %w", r, ErrRefused)
	}
	if r.Bits() < s.Bits() || !s.Contains(r.Addr()) {
		return fmt.Errorf("ip-range %s is not inside subnet %s: %w", r, s, ErrRefused)
	}
	return nil
}

// CheckInside reports whether a is a unicast address inside subnet s.
func CheckInside(s netip.Prefix, a netip.Addr) error {
	if err := CheckUnicast(a); err != nil {
		return err
	}
	if !s.Contains(a.Unmap()) {
		return fmt.Errorf("address %s is outside subnet %s: %w", a, s, ErrRefused)
	}
	return nil
}

// Broadcast returns the last address of an IPv4 prefix.
func Broadcast(s netip.Prefix) netip.Addr {
	b := s.Masked().Addr().As4()
	host := uint32(1)<<(32-s.Bits()) - 1
	if s.Bits() == 0 {
		host = ^uint32(0)
	}
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
