package tunnel

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// Decrypted VXLAN datagrams of one TCP flow come out of wireguard-go in
// batches of equal-sized datagrams between the same two addresses and
// ports. Writing each costs a system call and a walk through the kernel's
// input path (conntrack, the input rules, the route); coalesce joins a run
// of them into one UDP super-packet (GSO_UDP_L4), which the kernel cuts
// again at the VXLAN socket after a single walk.

// maxCoalesced bounds the datagrams of one super-packet; maxSuper its bytes.
const (
	maxCoalesced = 64
	maxSuper     = 65535
)

// coalescible tells whether pkt is an IPv4/UDP datagram without options
// or fragmentation, and returns its UDP payload's length.
func coalescible(pkt []byte) (int, bool) {
	if len(pkt) < 28 || pkt[0] != 0x45 || pkt[9] != 17 || binary.BigEndian.Uint16(pkt[6:])&0x3fff != 0 {
		return 0, false
	}
	if int(binary.BigEndian.Uint16(pkt[2:])) != len(pkt) || int(binary.BigEndian.Uint16(pkt[24:])) != len(pkt)-20 {
		return 0, false
	}
	return len(pkt) - 28, true
}

// sameFlow tells whether a and b have the same addresses and ports.
func sameFlow(a, b []byte) bool {
	return string(a[12:24]) == string(b[12:24])
}

// run returns how many packets from pkts[0] coalesce with it: the same
// flow, the same payload length, except that the last may be shorter.
func run(pkts [][]byte) int {
	size, ok := coalescible(pkts[0])
	if !ok || size == 0 {
		return 1
	}
	total, n := len(pkts[0]), 1
	for n < len(pkts) && n < maxCoalesced {
		p := pkts[n]
		l, ok := coalescible(p)
		if !ok || !sameFlow(pkts[0], p) || l > size || l == 0 || total+l > maxSuper {
			break
		}
		total += l
		n++
		if l < size {
			break
		}
	}
	return n
}

// superHeader rewrites the IPv4 and UDP headers of first as those of a
// super-packet of total bytes and fills hdr, the virtio header that tells
// the kernel to cut it into datagrams of size bytes of payload.
func superHeader(hdr []byte, first []byte, total, size int) {
	binary.BigEndian.PutUint16(first[2:], uint16(total))
	first[10], first[11] = 0, 0
	binary.BigEndian.PutUint16(first[10:], ^fold(sumBytes(first[:20], 0)))
	udpLen := total - 20
	binary.BigEndian.PutUint16(first[24:], uint16(udpLen))
	// The pseudo-header's sum; the kernel completes it per datagram.
	binary.BigEndian.PutUint16(first[26:], fold(sumBytes(first[12:20], uint64(17+udpLen))))
	clear(hdr)
	hdr[0] = unix.VIRTIO_NET_HDR_F_NEEDS_CSUM
	hdr[1] = unix.VIRTIO_NET_HDR_GSO_UDP_L4
	binary.LittleEndian.PutUint16(hdr[2:], 28)           // hdr_len
	binary.LittleEndian.PutUint16(hdr[4:], uint16(size)) // gso_size
	binary.LittleEndian.PutUint16(hdr[6:], 20)           // csum_start
	binary.LittleEndian.PutUint16(hdr[8:], 6)            // csum_offset
}
