package tunnel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// superPacketOf builds a TCP super-packet with payload, tunnelled in
// IPv4/UDP/VXLAN/Ethernet or not, its inner IP of version 4 or 6.
func superPacketOf(tunnelled, inner6 bool, payload []byte) []byte {
	return superPacketCsum(tunnelled, inner6, false, payload)
}

// superPacketCsum is superPacketOf, with an outer UDP checksum if udpCsum.
func superPacketCsum(tunnelled, inner6, udpCsum bool, payload []byte) []byte {
	tcp := make([]byte, 20)
	binary.BigEndian.PutUint16(tcp[0:], 40000)
	binary.BigEndian.PutUint16(tcp[2:], 5201)
	binary.BigEndian.PutUint32(tcp[4:], 0xfffff000) // wraps while segmenting
	tcp[12] = 5 << 4
	tcp[13] = 0x80 | 0x10 | 0x08 | 0x01 // CWR ACK PSH FIN
	var ip []byte
	if inner6 {
		ip = make([]byte, 40)
		ip[0], ip[6], ip[7] = 0x60, 6, 64
		ip[8+15], ip[24+15] = 1, 2
	} else {
		ip = []byte{0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 10, 61, 0, 2, 10, 61, 0, 3}
	}
	pkt := append(append(append([]byte{}, ip...), tcp...), payload...)
	if !tunnelled {
		return pkt
	}
	eth := make([]byte, 14)
	binary.BigEndian.PutUint16(eth[12:], map[bool]uint16{false: 0x0800, true: 0x86dd}[inner6])
	vx := []byte{0x08, 0, 0, 0, 0, 0, 42, 0}
	udp := []byte{0xc0, 0x00, 0x12, 0xb6, 0, 0, 0, 0}
	if udpCsum {
		udp[6], udp[7] = 0x5a, 0x5a // what the kernel leaves there does not matter
	}
	outer := []byte{0x45, 0, 0, 0, 0xab, 0xcd, 0x40, 0, 64, 17, 0, 0, 192, 168, 9, 1, 192, 168, 9, 2}
	return append(append(append(append(outer, udp...), vx...), eth...), pkt...)
}

// overIPv6 replaces the outer IPv4 header of a tunnelled super-packet by an IPv6 one.
func overIPv6(pkt []byte) []byte {
	outer := make([]byte, 40)
	outer[0], outer[6], outer[7] = 0x60, 17, 64
	outer[8], outer[23], outer[24], outer[39] = 0xfd, 1, 0xfd, 2
	return append(outer, pkt[20:]...)
}

// TestSplitOverIPv6 splits a VXLAN super-packet of an IPv6 underlay (whose
// UDP checksum is mandatory).
func TestSplitOverIPv6(t *testing.T) {
	pkt := overIPv6(superPacketCsum(true, false, true, make([]byte, 4000)))
	out, sizes := [][]byte{make([]byte, 2000), make([]byte, 2000), make([]byte, 2000)}, make([]int, 3)
	n, err := split(pkt, true, 1350, out, sizes, 0)
	if err != nil || n != 3 {
		t.Fatalf("split: %d, %v; want 3 segments", n, err)
	}
	for i := range n {
		seg := out[i][:sizes[i]]
		if int(binary.BigEndian.Uint16(seg[4:])) != len(seg)-40 {
			t.Errorf("segment %d: IPv6 payload length %d", i, binary.BigEndian.Uint16(seg[4:]))
		}
		udp := seg[40:]
		if fold(sumBytes(seg[8:40], sumBytes(udp, 17+uint64(len(udp))))) != 0xffff {
			t.Errorf("segment %d: outer UDP checksum wrong", i)
		}
		inner := seg[40+8+8+14:]
		tcp := inner[20:]
		if fold(sumBytes(tcp, sumBytes(inner[12:20], 6+uint64(len(tcp))))) != 0xffff {
			t.Errorf("segment %d: TCP checksum wrong", i)
		}
	}
}

func TestSplitSegments(t *testing.T) {
	payload := make([]byte, 5000)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	for _, tc := range []struct {
		name                       string
		tunnelled, inner6, udpCsum bool
	}{{"vxlan-ipv4", true, false, false}, {"vxlan-ipv6", true, true, false}, {"vxlan-csum-ipv4", true, false, true},
		{"vxlan-csum-ipv6", true, true, true}, {"tcp4", false, false, false}, {"tcp6", false, true, false}} {
		t.Run(tc.name, func(t *testing.T) {
			pkt := superPacketCsum(tc.tunnelled, tc.inner6, tc.udpCsum, payload)
			const mss, offset = 1350, 16
			out := make([][]byte, 8)
			for i := range out {
				out[i] = make([]byte, 2000)
			}
			sizes := make([]int, len(out))
			n, err := split(pkt, tc.tunnelled, mss, out, sizes, offset)
			if err != nil || n != 4 {
				t.Fatalf("split: %d segments, %v; want 4", n, err)
			}
			sp, _ := parse(pkt, tc.tunnelled)
			var got []byte
			for i := range n {
				seg := out[i][offset : offset+sizes[i]]
				checkSegment(t, seg, sp, i, n)
				if udp := seg[20:]; tc.tunnelled && tc.udpCsum != (udp[6] != 0 || udp[7] != 0) {
					t.Errorf("segment %d: outer UDP checksum %#x, want one: %v", i, udp[6:8], tc.udpCsum)
				} else if tc.udpCsum && fold(sumBytes(seg[12:20], sumBytes(udp, 17+uint64(len(udp))))) != 0xffff {
					t.Errorf("segment %d: outer UDP checksum wrong", i)
				}
				got = append(got, seg[sp.hdrs:]...)
			}
			if !bytes.Equal(got, payload) {
				t.Errorf("the segments' payloads do not add up to the super-packet's")
			}
			if _, err := split(pkt, tc.tunnelled, mss, out[:3], sizes, offset); !errors.Is(err, errTooMany) {
				t.Errorf("split into 3 buffers: %v, want too many segments", err)
			}
		})
	}
}

func checkSegment(t *testing.T, seg []byte, sp superPacket, i, n int) {
	t.Helper()
	if sp.outer >= 0 {
		if fold(sumBytes(seg[:20], 0)) != 0xffff || int(binary.BigEndian.Uint16(seg[2:])) != len(seg) {
			t.Errorf("segment %d: outer IPv4 header checksum or length wrong", i)
		}
		if int(binary.BigEndian.Uint16(seg[24:])) != len(seg)-20 || binary.BigEndian.Uint16(seg[4:]) != 0xabcd+uint16(i) {
			t.Errorf("segment %d: outer UDP length or IPv4 ID wrong", i)
		}
	}
	ip, tcp := seg[sp.inner:], seg[sp.tcp:]
	var sum uint64
	if sp.inner6 {
		sum = sumBytes(ip[8:40], 0)
	} else {
		sum = sumBytes(ip[12:20], 0)
		if fold(sumBytes(ip[:20], 0)) != 0xffff || int(binary.BigEndian.Uint16(ip[2:])) != len(ip) {
			t.Errorf("segment %d: inner IPv4 header checksum or length wrong", i)
		}
	}
	if fold(sumBytes(tcp, sum+6+uint64(len(tcp)))) != 0xffff {
		t.Errorf("segment %d: TCP checksum wrong", i)
	}
	if seq := binary.BigEndian.Uint32(tcp[4:]); seq != 0xfffff000+uint32(i*1350) {
		t.Errorf("segment %d: sequence %#x", i, seq)
	}
	last, first := i == n-1, i == 0
	if (tcp[13]&0x09 != 0) != last || (tcp[13]&0x80 != 0) != first {
		t.Errorf("segment %d of %d: flags %#x", i, n, tcp[13])
	}
}

func TestReadPacketCompletesChecksum(t *testing.T) {
	pkt := superPacketOf(false, false, []byte("hello"))
	tcp := pkt[20:]
	// The kernel leaves the pseudo-header's sum in the field.
	binary.BigEndian.PutUint16(tcp[16:], fold(sumBytes(pkt[12:20], 6+uint64(len(tcp)))))
	in := append(make([]byte, vnetHdrLen), pkt...)
	in[0] = 1 // NEEDS_CSUM
	binary.LittleEndian.PutUint16(in[6:], 20)
	binary.LittleEndian.PutUint16(in[8:], 16)
	out, sizes := [][]byte{make([]byte, 100)}, []int{0}
	if n, err := readPacket(in, out, sizes, 0); n != 1 || err != nil {
		t.Fatalf("readPacket: %d, %v", n, err)
	}
	got := out[0][:sizes[0]]
	if fold(sumBytes(got[20:], sumBytes(got[12:20], 6+uint64(len(got)-20)))) != 0xffff {
		t.Errorf("TCP checksum not completed")
	}
}

func TestSplitRefusesWhatItDoesNotKnow(t *testing.T) {
	pkt := superPacketOf(true, false, make([]byte, 3000))
	binary.BigEndian.PutUint16(pkt[20+8+8+12:], 0x8100) // a VLAN tag
	if _, err := split(pkt, true, 1350, [][]byte{make([]byte, 2000)}, []int{0}, 0); !errors.Is(err, errNotSplittable) {
		t.Errorf("split of a VLAN-tagged frame: %v, want errNotSplittable", err)
	}
}
