//go:build linux

package e2e

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Capture reads every frame that crosses the underlay namespace of a cluster (each host's link to the bridge,
// both directions) through an AF_PACKET socket, and counts what the tests look for: frames holding a marker,
// UDP datagrams per destination port, and VXLAN datagrams per VNI on the given VXLAN ports.
type Capture struct {
	fd      int
	markers [][]byte
	vxlan   map[uint16]bool
	done    chan struct{}
	stop    chan struct{}
	once    sync.Once

	// mu guards the counters below.
	mu      sync.Mutex
	frames  int
	marker  map[string]int
	udp     map[uint16]int
	udp6    int
	vni     map[uint16]map[uint32]int
	plain   map[string]int
	readErr error
}

// StartCapture starts counting frames on c's underlay; markers are the byte strings to look for, vxlanPorts the UDP
// ports whose datagrams are parsed as VXLAN. Stop it with Stop.
func (c *Cluster) StartCapture(markers []string, vxlanPorts ...uint16) (*Capture, error) {
	cp := &Capture{fd: -1, vxlan: map[uint16]bool{}, done: make(chan struct{}), stop: make(chan struct{}), marker: map[string]int{},
		udp: map[uint16]int{}, vni: map[uint16]map[uint32]int{}, plain: map[string]int{}}
	for _, m := range markers {
		cp.markers = append(cp.markers, []byte(m))
	}
	for _, p := range vxlanPorts {
		cp.vxlan[p] = true
		cp.vni[p] = map[uint32]int{}
	}
	fd, err := packetSocket(filepath.Join(NetnsDir, c.UnderlayNS), unix.SOCK_RAW, unix.ETH_P_ALL)
	if err != nil {
		return nil, fmt.Errorf("capture on the underlay: %w", err)
	}
	cp.fd = fd
	go cp.read()
	return cp, nil
}

// packetSocket opens an AF_PACKET socket of type (SOCK_RAW: with link headers, SOCK_DGRAM: from the network
// header) for protocol in the network namespace at nsPath, with a receive timeout of 200 ms so that a reader
// can stop, and a large receive buffer.
func packetSocket(nsPath string, typ int, protocol uint16) (int, error) {
	fd := -1
	err := inNetns(nsPath, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_PACKET, typ|unix.SOCK_CLOEXEC, int(htons(protocol)))
		return err
	})
	if err != nil {
		return -1, err
	}
	tv := unix.Timeval{Usec: 200_000}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return -1, err
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 8<<20)
	return fd, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (cp *Capture) read() {
	defer close(cp.done)
	buf := make([]byte, 1<<16)
	for {
		select {
		case <-cp.stop:
			return
		default:
		}
		n, _, err := unix.Recvfrom(cp.fd, buf, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			cp.mu.Lock()
			if !errors.Is(err, unix.EBADF) {
				cp.readErr = err
			}
			cp.mu.Unlock()
			return
		}
		cp.count(buf[:n])
	}
}

// count looks at one Ethernet frame.
func (cp *Capture) count(f []byte) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	cp.frames++
	for _, m := range cp.markers {
		if bytes.Contains(f, m) {
			cp.marker[string(m)]++
		}
	}
	if len(f) >= 14+20 && binary.BigEndian.Uint16(f[12:14]) == 0x0800 && f[14+9] != unix.IPPROTO_UDP {
		cp.countPlain(f, f[14:])
	}
	udp := udpOf(f)
	if udp == nil {
		return
	}
	if binary.BigEndian.Uint16(f[12:14]) == 0x86dd {
		cp.udp6++
	}
	dport := binary.BigEndian.Uint16(udp[2:4])
	cp.udp[dport]++
	if cp.vxlan[dport] && len(udp) >= 16 {
		vni := uint32(udp[12])<<16 | uint32(udp[13])<<8 | uint32(udp[14])
		cp.vni[dport][vni]++
	}
}

// udpOf returns the UDP header and payload of Ethernet frame f over IPv4 or IPv6 (without extension headers),
// nil when f holds no UDP.
func udpOf(f []byte) []byte {
	if len(f) < 14+20 {
		return nil
	}
	ip := f[14:]
	switch binary.BigEndian.Uint16(f[12:14]) {
	case 0x0800:
		ihl := int(ip[0]&0x0f) * 4
		if ip[9] == unix.IPPROTO_UDP && len(ip) >= ihl+8 {
			return ip[ihl:]
		}
	case 0x86dd:
		if len(ip) >= 40+8 && ip[6] == unix.IPPROTO_UDP {
			return ip[40:]
		}
	}
	return nil
}

// countPlain counts a frame that is not UDP (so not VXLAN) and holds a marker, by marker and by its outer
// addresses: "MARKER srcMAC srcIP > dstMAC dstIP". mu is held.
func (cp *Capture) countPlain(f, ip []byte) {
	for _, m := range cp.markers {
		if bytes.Contains(f, m) {
			cp.plain[fmt.Sprintf("%s %s %s > %s %s", m, net.HardwareAddr(f[6:12]), net.IP(ip[12:16]),
				net.HardwareAddr(f[0:6]), net.IP(ip[16:20]))]++
		}
	}
}

// CaptureCounts is what a Capture saw. Plain counts the frames with a marker that were not UDP, by marker and
// outer addresses (see countPlain).
type CaptureCounts struct {
	Frames int
	Marker map[string]int
	UDP    map[uint16]int
	VNI    map[uint16]map[uint32]int
	UDP6   int // UDP datagrams over IPv6 among UDP
	Plain  map[string]int
}

// Stop ends the capture and returns its counts.
func (cp *Capture) Stop() (CaptureCounts, error) {
	cp.once.Do(func() { close(cp.stop) })
	select {
	case <-cp.done:
	case <-time.After(5 * time.Second):
	}
	unix.Close(cp.fd)
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return CaptureCounts{Frames: cp.frames, Marker: cp.marker, UDP: cp.udp, VNI: cp.vni, UDP6: cp.udp6, Plain: cp.plain}, cp.readErr
}
