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

// ErrRefused matches (errors.Is) every error of this package, so callers
// can tell a refused value from other failures. Its text is not added to
// the errors' own, which are whole sentences.
var ErrRefused = errors.New("refused by weavego's network rules")

// refusal is an error of this package: a sentence that Is ErrRefused.
type refusal struct{ msg string }

func (r refusal) Error() string        { return r.msg }
func (r refusal) Is(target error) bool { return target == ErrRefused }

func refuse(format string, args ...any) error { return refusal{msg: fmt.Sprintf(format, args...)} }

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

// specialOf names the special block (IPv4 or IPv6) p overlaps, or "".
func specialOf(p netip.Prefix) string {
	list := specials[:]
	if p.Addr().Is6() {
		list = specials6[:]
	}
	for _, s := range list {
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
		return refuse("the subnet is missing or not a CIDR such as 10.1.0.0/24")
	}
	if !s.Addr().Is4() {
		return refuse("subnet %s is not IPv4: weavego networks are IPv4; pick an IPv4 subnet", s)
	}
	if s.Masked() != s {
		return refuse("subnet %s has host bits set: write it as %s", s, s.Masked())
	}
	if s.Bits() < MinPrefixBits || s.Bits() > MaxPrefixBits {
		return refuse("subnet %s has a /%d prefix: weavego networks need /%d to /%d; pick another subnet",
			s, s.Bits(), MinPrefixBits, MaxPrefixBits)
	}
	if what := specialOf(s); what != "" {
		return refuse("subnet %s is %s: weavego networks need unicast space; pick another subnet",
			s, what)
	}
	return nil
}

// CheckUnicast reports whether a is an IPv4 address a container or a
// gateway may have: not unspecified, loopback, link-local, multicast,
// 0.0.0.0/8 or 240.0.0.0/4.
func CheckUnicast(a netip.Addr) error {
	if !a.IsValid() {
		return refuse("the address is missing")
	}
	a = a.Unmap()
	if !a.Is4() {
		return refuse("address %s is not IPv4", a)
	}
	if what := specialOf(netip.PrefixFrom(a, 32)); what != "" {
		return refuse("address %s is %s: weavego needs a unicast address; pick another one", a, what)
	}
	return nil
}

// CheckGateway reports whether gw may be the gateway of subnet s (itself
// valid): a unicast address inside s that is neither its network nor its
// broadcast address.
func CheckGateway(s netip.Prefix, gw netip.Addr) error {
	gw = gw.Unmap()
	if !gw.Is4() {
		return refuse("gateway %s is not an IPv4 address", gw)
	}
	if what := specialOf(netip.PrefixFrom(gw, 32)); what != "" {
		return refuse("gateway %s is %s: a weavego gateway must be a unicast address of its subnet; pick another one",
			gw, what)
	}
	if !s.Contains(gw) {
		return refuse("gateway %s is outside subnet %s: pick an address inside it", gw, s)
	}
	if gw == s.Masked().Addr() || gw == Broadcast(s) {
		return refuse("gateway %s is the network or broadcast address of %s: pick another address", gw, s)
	}
	return nil
}

// CheckRange reports whether r may be the ip-range of subnet s: a masked
// prefix inside s.
func CheckRange(s, r netip.Prefix) error {
	if !r.IsValid() || !r.Addr().Is4() {
		return refuse("ip-range %s is not an IPv4 CIDR", r)
	}
	if r.Bits() < s.Bits() || !s.Contains(r.Addr()) {
		return refuse("ip-range %s is not inside subnet %s", r, s)
	}
	return nil
}

// CheckInside reports whether a is a unicast address inside subnet s.
func CheckInside(s netip.Prefix, a netip.Addr) error {
	if err := CheckUnicast(a); err != nil {
		return err
	}
	if !s.Contains(a.Unmap()) {
		return refuse("address %s is outside subnet %s", a, s)
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
