package ipalloc

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"
)

// Address arithmetic on a pool's allocatable range. Offsets are uint64 and a
// range is capped at 2^maxHostBits addresses (only IPv6 ranges are larger),
// so a /64 allocates from its first 2^32 addresses.
const (
	maxHostBits  = 32
	minBlockSize = 4
	maxBlocks    = 1024
)

// space is a pool's range cut into equal blocks, the unit of ownership.
type space struct {
	subnet    netip.Prefix
	start     netip.Addr // first address of the range
	size      uint64     // addresses in the range
	blockSize uint64     // a power of two, at most size
}

func newSpace(subnet, rng netip.Prefix) space {
	hostBits := rng.Addr().BitLen() - rng.Bits()
	size := uint64(1) << min(hostBits, maxHostBits)
	bs := uint64(minBlockSize)
	for bs*maxBlocks < size {
		bs <<= 1
	}
	return space{subnet: subnet, start: rng.Masked().Addr(), size: size, blockSize: min(bs, size)}
}

// blocks is the number of blocks in the space.
func (s space) blocks() int { return int((s.size + s.blockSize - 1) / s.blockSize) }

// addr returns the address at offset off of the range.
func (s space) addr(off uint64) netip.Addr { return addAddr(s.start, off) }

// offset returns a's offset in the range, or false if a is outside it.
func (s space) offset(a netip.Addr) (uint64, bool) {
	if a.BitLen() != s.start.BitLen() || a.Less(s.start) {
		return 0, false
	}
	off, ok := subAddr(a, s.start)
	return off, ok && off < s.size
}

// blockOf returns the block holding offset off.
func (s space) blockOf(off uint64) int { return int(off / s.blockSize) }

// blockRange returns the offsets [lo, hi) of block b.
func (s space) blockRange(b int) (lo, hi uint64) {
	lo = uint64(b) * s.blockSize
	return lo, min(lo+s.blockSize, s.size)
}

// network and broadcast are never handed out (for IPv6 the first address is
// the subnet-router anycast address; the last is kept free for symmetry).
func (s space) network() netip.Addr { return s.subnet.Masked().Addr() }

func (s space) broadcast() netip.Addr {
	hostBits := s.subnet.Addr().BitLen() - s.subnet.Bits()
	if hostBits > 64 {
		hostBits = 64 // beyond what a uint64 offset reaches; never inside the range
	}
	return addAddr(s.network(), (uint64(1)<<hostBits)-1) // wraps to max for 64
}

func addAddr(a netip.Addr, off uint64) netip.Addr {
	if a.Is4() {
		b := a.As4()
		return netip.AddrFrom4(u32bytes(binary.BigEndian.Uint32(b[:]) + uint32(off)))
	}
	b := a.As16()
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	lo, carry := bits.Add64(lo, off, 0)
	binary.BigEndian.PutUint64(b[:8], hi+carry)
	binary.BigEndian.PutUint64(b[8:], lo)
	return netip.AddrFrom16(b)
}

// subAddr returns a-b when a >= b and the difference fits in a uint64.
func subAddr(a, b netip.Addr) (uint64, bool) {
	if a.Is4() {
		x, y := a.As4(), b.As4()
		return uint64(binary.BigEndian.Uint32(x[:]) - binary.BigEndian.Uint32(y[:])), true
	}
	x, y := a.As16(), b.As16()
	lo, borrow := bits.Sub64(binary.BigEndian.Uint64(x[8:]), binary.BigEndian.Uint64(y[8:]), 0)
	hi, _ := bits.Sub64(binary.BigEndian.Uint64(x[:8]), binary.BigEndian.Uint64(y[:8]), borrow)
	return lo, hi == 0
}

func u32bytes(v uint32) [4]byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return b
}

// parsePrefix parses a CIDR given by a user; what names it is for messages.
func parsePrefix(what, s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%s %q is not a CIDR subnet such as 10.1.0.0/24: %w", what, s, ErrInvalidRequest)
	}
	return p.Masked(), nil
}
