package tunnel

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// A VXLAN datagram that carries TCP reaches the TUN device as one
// super-packet of up to 64 KiB when the device offers UDP tunnel
// segmentation (TUN_F_UDP_TUNNEL_GSO, Linux 6.17): outer IPv4 or IPv6, UDP, VXLAN,
// the inner Ethernet frame's header, inner IPv4 or IPv6, TCP, then the
// payload of many segments. split cuts it into the datagrams the kernel
// would have sent, so that wireguard-go reads, encrypts and sends them as one
// batch instead of one system call and one goroutine hand-off each.

// Header lengths of the encapsulation.
const (
	udpHeaderLen   = 8
	vxlanHeaderLen = 8
	ethHeaderLen   = 14
	ipv6HeaderLen  = 40
)

// errNotSplittable marks a super-packet whose headers split does not know
// (a VLAN tag, IPv6 extension headers): it is dropped.
var errNotSplittable = errors.New("super-packet cannot be split")

// superPacket is the layout of a super-packet found by parse.
type superPacket struct {
	outer  int  // offset of the outer IP header; -1 without encapsulation
	inner  int  // offset of the inner IP header
	tcp    int  // offset of the TCP header
	hdrs   int  // length of all headers, TCP's included
	inner6 bool // the inner IP header is IPv6
}

// parse finds the headers of pkt, a TCP super-packet (tunnelled: inside
// IPv4 or IPv6/UDP/VXLAN/Ethernet).
func parse(pkt []byte, tunnelled bool) (superPacket, error) {
	sp := superPacket{outer: -1}
	off := 0
	if tunnelled {
		ihl, err := outerHeaderLen(pkt)
		if err != nil {
			return sp, err
		}
		sp.outer = 0
		off = ihl + udpHeaderLen + vxlanHeaderLen
		if len(pkt) < off+ethHeaderLen {
			return sp, fmt.Errorf("%w: short inner frame", errNotSplittable)
		}
		switch binary.BigEndian.Uint16(pkt[off+12:]) {
		case 0x0800:
		case 0x86dd:
			sp.inner6 = true
		default:
			return sp, fmt.Errorf("%w: inner ethertype %#04x", errNotSplittable, binary.BigEndian.Uint16(pkt[off+12:]))
		}
		off += ethHeaderLen
	} else {
		sp.inner6 = len(pkt) > 0 && pkt[0]>>4 == 6
	}
	sp.inner = off
	if sp.inner6 {
		if len(pkt) < off+ipv6HeaderLen || pkt[off]>>4 != 6 || pkt[off+6] != 6 {
			return sp, fmt.Errorf("%w: inner IPv6 header is not followed by TCP", errNotSplittable)
		}
		sp.tcp = off + ipv6HeaderLen
	} else {
		ihl, err := ipv4HeaderLen(pkt[off:], 6)
		if err != nil {
			return sp, err
		}
		sp.tcp = off + ihl
	}
	if len(pkt) < sp.tcp+20 {
		return sp, fmt.Errorf("%w: short TCP header", errNotSplittable)
	}
	sp.hdrs = sp.tcp + int(pkt[sp.tcp+12]>>4)*4
	if sp.hdrs < sp.tcp+20 || sp.hdrs > len(pkt) {
		return sp, fmt.Errorf("%w: bad TCP header length", errNotSplittable)
	}
	return sp, nil
}

// outerHeaderLen checks that b starts with an IPv4 header, or an IPv6 one
// without extension headers, of a UDP datagram, and returns its length.
func outerHeaderLen(b []byte) (int, error) {
	if len(b) >= ipv6HeaderLen && b[0]>>4 == 6 {
		if b[6] != 17 {
			return 0, fmt.Errorf("%w: outer IPv6 header is not followed by UDP", errNotSplittable)
		}
		return ipv6HeaderLen, nil
	}
	return ipv4HeaderLen(b, 17)
}

// ipv4HeaderLen checks that b starts with an IPv4 header of protocol proto
// and returns its length.
func ipv4HeaderLen(b []byte, proto byte) (int, error) {
	if len(b) < 20 || b[0]>>4 != 4 {
		return 0, fmt.Errorf("%w: not IPv4", errNotSplittable)
	}
	ihl := int(b[0]&0xf) * 4
	if ihl < 20 || len(b) < ihl || b[9] != proto {
		return 0, fmt.Errorf("%w: IPv4 header of protocol %d, want %d", errNotSplittable, b[9], proto)
	}
	return ihl, nil
}

// split cuts pkt into segments of at most mss bytes of TCP payload, each
// with its headers, into out[i][offset:], and sets sizes[i]. It returns the
// number of segments, or errTooMany if out has too few buffers.
func split(pkt []byte, tunnelled bool, mss int, out [][]byte, sizes []int, offset int) (int, error) {
	sp, err := parse(pkt, tunnelled)
	if err != nil {
		return 0, err
	}
	if mss <= 0 {
		return 0, fmt.Errorf("%w: segment size %d", errNotSplittable, mss)
	}
	payload := pkt[sp.hdrs:]
	n := (len(payload) + mss - 1) / mss
	if n == 0 {
		n = 1
	}
	if n > len(out) {
		return 0, errTooMany
	}
	seq := binary.BigEndian.Uint32(pkt[sp.tcp+4:])
	for i := range n {
		chunk := payload[min(i*mss, len(payload)):min((i+1)*mss, len(payload))]
		seg := out[i][offset:]
		if len(seg) < sp.hdrs+len(chunk) {
			return 0, fmt.Errorf("%w: buffer of %d bytes", errNotSplittable, len(seg))
		}
		copy(seg, pkt[:sp.hdrs])
		copy(seg[sp.hdrs:], chunk)
		seg = seg[:sp.hdrs+len(chunk)]
		fixSegment(seg, sp, i, n, seq+uint32(i*mss))
		sizes[i] = len(seg)
	}
	return n, nil
}

// fixSegment rewrites the lengths, IDs, sequence number, flags and
// checksums of segment i of n. The outer UDP checksum is computed if the
// super-packet has one (the kernel leaves its pseudo-header's sum there;
// VXLAN without checksums leaves 0).
func fixSegment(seg []byte, sp superPacket, i, n int, seq uint32) {
	ip := seg[sp.inner:]
	if sp.inner6 {
		binary.BigEndian.PutUint16(ip[4:], uint16(len(ip)-ipv6HeaderLen))
	} else {
		fixIPv4(ip, len(ip), i)
	}
	tcp := seg[sp.tcp:]
	binary.BigEndian.PutUint32(tcp[4:], seq)
	if i != n-1 {
		tcp[13] &^= 0x01 | 0x08 // FIN, PSH only on the last segment
	}
	if i != 0 {
		tcp[13] &^= 0x80 // CWR only on the first
	}
	tcp[16], tcp[17] = 0, 0
	pseudo := uint64(6 + len(tcp))
	if sp.inner6 {
		pseudo = sumBytes(ip[8:40], pseudo)
	} else {
		pseudo = sumBytes(ip[12:20], pseudo)
	}
	tcpSum := sumBytes(tcp, 0)
	tcpCsum := ^fold(tcpSum + pseudo)
	binary.BigEndian.PutUint16(tcp[16:], tcpCsum)
	if sp.outer < 0 {
		return
	}
	outer := seg[sp.outer:]
	ihl, addrs := ipv6HeaderLen, outer[8:40]
	if outer[0]>>4 == 4 {
		ihl, addrs = int(outer[0]&0xf)*4, outer[12:20]
		fixIPv4(outer, len(outer), i)
	} else {
		binary.BigEndian.PutUint16(outer[4:], uint16(len(outer)-ipv6HeaderLen))
	}
	udp := outer[ihl:]
	binary.BigEndian.PutUint16(udp[4:], uint16(len(udp)))
	if udp[6] == 0 && udp[7] == 0 {
		return
	}
	udp[6], udp[7] = 0, 0
	// The UDP datagram's sum is its headers' up to TCP plus TCP's, whose
	// own checksum now makes part of it.
	sum := sumBytes(addrs, uint64(17+len(udp))) + sumBytes(seg[sp.outer+ihl:sp.tcp], 0) + tcpSum + uint64(tcpCsum)
	c := ^fold(sum)
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(udp[6:], c)
}

// fixIPv4 sets the total length, adds i to the ID and recomputes the
// header checksum of the IPv4 header at the start of h.
func fixIPv4(h []byte, total, i int) {
	ihl := int(h[0]&0xf) * 4
	binary.BigEndian.PutUint16(h[2:], uint16(total))
	binary.BigEndian.PutUint16(h[4:], binary.BigEndian.Uint16(h[4:])+uint16(i))
	h[10], h[11] = 0, 0
	binary.BigEndian.PutUint16(h[10:], ^fold(sumBytes(h[:ihl], 0)))
}

// sumBytes adds b, as big-endian 16-bit words, to sum (RFC 1071).
func sumBytes(b []byte, sum uint64) uint64 {
	for len(b) >= 8 {
		sum += uint64(binary.BigEndian.Uint32(b)) + uint64(binary.BigEndian.Uint32(b[4:]))
		b = b[8:]
	}
	for len(b) >= 2 {
		sum += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint64(b[0]) << 8
	}
	return sum
}

// fold folds sum to 16 bits.
func fold(sum uint64) uint16 {
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
}

// completeChecksum writes the checksum of pkt[start:] at start+off, where
// the kernel left the pseudo-header's partial sum (CHECKSUM_PARTIAL).
func completeChecksum(pkt []byte, start, off int) error {
	if start < 0 || start+off+2 > len(pkt) {
		return fmt.Errorf("%w: checksum at %d+%d outside %d bytes", errNotSplittable, start, off, len(pkt))
	}
	binary.BigEndian.PutUint16(pkt[start+off:], ^fold(sumBytes(pkt[start:], 0)))
	return nil
}
