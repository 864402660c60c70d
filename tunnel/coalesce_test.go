package tunnel

import (
	"encoding/binary"
	"testing"
)

// datagram is an IPv4/UDP datagram from port sport with size bytes of payload.
func datagram(sport uint16, size int) []byte {
	p := make([]byte, 28+size)
	copy(p, []byte{0x45, 0, 0, 0, 0, 1, 0x40, 0, 63, 17, 0, 0, 192, 168, 9, 1, 192, 168, 9, 2})
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	binary.BigEndian.PutUint16(p[20:], sport)
	binary.BigEndian.PutUint16(p[22:], 4790)
	binary.BigEndian.PutUint16(p[24:], uint16(size+8))
	return p
}

func TestRunCoalescesOneFlowOfEqualDatagrams(t *testing.T) {
	a, b := datagram(1000, 1400), datagram(2000, 1400)
	tcp := datagram(1000, 1400)
	tcp[9] = 6
	for _, tc := range []struct {
		name string
		pkts [][]byte
		want int
	}{
		{"one flow", [][]byte{a, a, a, b}, 3},
		{"shorter last ends the run", [][]byte{a, a, datagram(1000, 100), a}, 3},
		{"longer one ends the run", [][]byte{datagram(1000, 100), a}, 1},
		{"not UDP", [][]byte{a, tcp}, 1},
		{"alone", [][]byte{a}, 1},
	} {
		if got := run(tc.pkts); got != tc.want {
			t.Errorf("%s: run of %d, want %d", tc.name, got, tc.want)
		}
	}
	many := make([][]byte, 100)
	for i := range many {
		many[i] = datagram(1000, 900)
	}
	if got := run(many); got*900+28 > maxSuper || got > maxCoalesced {
		t.Errorf("run of %d datagrams of 900 bytes: beyond %d bytes or %d datagrams", got, maxSuper, maxCoalesced)
	}
}

func TestSuperHeader(t *testing.T) {
	first := datagram(1000, 1400)
	hdr := make([]byte, vnetHdrLen)
	total := len(first) + 2*1400
	superHeader(hdr, first, total, 1400)
	if int(binary.BigEndian.Uint16(first[2:])) != total || fold(sumBytes(first[:20], 0)) != 0xffff {
		t.Errorf("IPv4 header of the super-packet: length %d or checksum wrong", binary.BigEndian.Uint16(first[2:]))
	}
	if int(binary.BigEndian.Uint16(first[24:])) != total-20 {
		t.Errorf("UDP length %d, want %d", binary.BigEndian.Uint16(first[24:]), total-20)
	}
	if hdr[1] != 5 || binary.LittleEndian.Uint16(hdr[4:]) != 1400 || binary.LittleEndian.Uint16(hdr[6:]) != 20 {
		t.Errorf("virtio header %x: want UDP_L4 segments of 1400 bytes, checksum from byte 20", hdr)
	}
}
