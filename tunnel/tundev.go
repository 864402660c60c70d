package tunnel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/tun"
)

// The TUN device of the userspace path offers UDP tunnel segmentation, which
// wireguard-go's own TUN device does not: the kernel then hands it a VXLAN
// super-packet per read (see segment.go) instead of one datagram.
const (
	// tunFUDPTunnelGSO is TUN_F_UDP_TUNNEL_GSO of linux/if_tun.h (6.17).
	tunFUDPTunnelGSO = 0x080
	// tunFUDPTunnelGSOCsum is TUN_F_UDP_TUNNEL_GSO_CSUM: the same with an
	// outer UDP checksum, as weavego's VXLAN devices send.
	tunFUDPTunnelGSOCsum = 0x100
	// gsoUDPTunnelIPv4 is VIRTIO_NET_HDR_GSO_UDP_TUNNEL_IPV4, a flag of
	// gso_type next to the inner type (TCPV4 or TCPV6).
	gsoUDPTunnelIPv4 = 0x20
	gsoUDPTunnelIPv6 = 0x40
	gsoECN           = 0x80
	// vnetHdrLen is sizeof(struct virtio_net_hdr_v1_hash_tunnel), the
	// header the kernel requires for UDP tunnel segmentation; its first 10
	// bytes are struct virtio_net_hdr.
	vnetHdrLen = 24
	// offloads: checksums, TCP segmentation (the inner type of a tunnel
	// super-packet) and UDP tunnel segmentation with or without outer
	// checksum.
	offloads = unix.TUN_F_CSUM | unix.TUN_F_TSO4 | unix.TUN_F_TSO6 | tunFUDPTunnelGSO | tunFUDPTunnelGSOCsum
)

// errTooMany is wireguard-go's sentinel for a read with more segments than
// buffers; it drops that packet and carries on.
var errTooMany = tun.ErrTooManySegments

// segmentingTUN is a tun.Device over a TUN device with UDP tunnel
// segmentation. Reads split super-packets; writes hand packets one by one.
type segmentingTUN struct {
	file   *os.File
	name   string
	events chan tun.Event

	// readMu guards readBuf; wireguard-go reads from one goroutine, writes
	// from several.
	readMu  sync.Mutex
	readBuf []byte
	// writeMu guards hdr, pkts and iov, the scratch of writes.
	writeMu sync.Mutex
	hdr     [vnetHdrLen]byte
	pkts    [][]byte
	iov     [][]byte
	closed  sync.Once
}

var _ tun.Device = (*segmentingTUN)(nil)

// openSegmentingTUN creates the TUN device name with the offloads above.
// It fails on kernels without UDP tunnel segmentation; the caller then uses
// wireguard-go's own device.
func openSegmentingTUN(name string) (*segmentingTUN, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := setupTUN(fd, name); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	t := &segmentingTUN{file: os.NewFile(uintptr(fd), "/dev/net/tun"), name: name,
		events: make(chan tun.Event, 1), readBuf: make([]byte, vnetHdrLen+65535)}
	t.events <- tun.EventUp // the caller sets the link up; wireguard-go starts its bind now
	return t, nil
}

func setupTUN(fd int, name string) error {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		return fmt.Errorf("create TUN device %s: %w", name, err)
	}
	sz := int32(vnetHdrLen)
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETVNETHDRSZ, uintptr(unsafe.Pointer(&sz))); e != 0 {
		return fmt.Errorf("set the virtio header size of %s: %w", name, e)
	}
	if err := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, offloads); err != nil {
		return fmt.Errorf("TUN device %s: no UDP tunnel segmentation (Linux 6.17 or later): %w", name, err)
	}
	return nil
}

func (t *segmentingTUN) File() *os.File           { return t.file }
func (t *segmentingTUN) Name() (string, error)    { return t.name, nil }
func (t *segmentingTUN) Events() <-chan tun.Event { return t.events }
func (t *segmentingTUN) BatchSize() int           { return conn.IdealBatchSize }

// MTU is the device's MTU, as the kernel has it.
func (t *segmentingTUN) MTU() (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(t.name)
	if err != nil {
		return 0, err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFMTU, ifr); err != nil {
		return 0, fmt.Errorf("MTU of %s: %w", t.name, err)
	}
	return int(ifr.Uint32()), nil
}

// Read reads one packet and splits it if it is a super-packet. A packet it
// cannot handle is dropped (0 packets, no error: an error would stop
// wireguard-go's device).
func (t *segmentingTUN) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	t.readMu.Lock()
	defer t.readMu.Unlock()
	n, err := t.file.Read(t.readBuf)
	if errors.Is(err, syscall.EBADFD) {
		err = os.ErrClosed
	}
	if err != nil {
		return 0, err
	}
	if n < vnetHdrLen {
		return 0, nil
	}
	got, err := readPacket(t.readBuf[:n], bufs, sizes, offset)
	if errors.Is(err, errNotSplittable) {
		return 0, nil
	}
	return got, err
}

// readPacket handles in, a virtio header then a packet.
func readPacket(in []byte, bufs [][]byte, sizes []int, offset int) (int, error) {
	flags, gsoType := in[0], in[1]&^gsoECN
	gsoSize := int(binary.LittleEndian.Uint16(in[4:]))
	csumStart, csumOff := int(binary.LittleEndian.Uint16(in[6:])), int(binary.LittleEndian.Uint16(in[8:]))
	pkt := in[vnetHdrLen:]
	switch {
	case gsoType == unix.VIRTIO_NET_HDR_GSO_NONE:
		if flags&unix.VIRTIO_NET_HDR_F_NEEDS_CSUM != 0 {
			if err := completeChecksum(pkt, csumStart, csumOff); err != nil {
				return 0, err
			}
		}
		if len(pkt) > len(bufs[0])-offset {
			return 0, fmt.Errorf("%w: packet of %d bytes", errNotSplittable, len(pkt))
		}
		sizes[0] = copy(bufs[0][offset:], pkt)
		return 1, nil
	case gsoType&(gsoUDPTunnelIPv4|gsoUDPTunnelIPv6) != 0:
		return split(pkt, true, gsoSize, bufs, sizes, offset)
	case gsoType == unix.VIRTIO_NET_HDR_GSO_TCPV4, gsoType == unix.VIRTIO_NET_HDR_GSO_TCPV6:
		return split(pkt, false, gsoSize, bufs, sizes, offset)
	}
	return 0, fmt.Errorf("%w: GSO type %#x", errNotSplittable, gsoType)
}

// Write writes the packets, each run of datagrams that coalesce as one
// super-packet (coalesce.go), the others one by one.
func (t *segmentingTUN) Write(bufs [][]byte, offset int) (int, error) {
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	sc, err := t.file.SyscallConn()
	if err != nil {
		return 0, err
	}
	pkts := t.pkts[:0]
	for _, b := range bufs {
		pkts = append(pkts, b[offset:])
	}
	t.pkts = pkts
	var errs []error
	written := 0
	for i := 0; i < len(pkts); {
		n := run(pkts[i:])
		iov := append(t.iov[:0], t.hdr[:], pkts[i])
		clear(t.hdr[:])
		if n > 1 {
			total := len(pkts[i])
			for _, p := range pkts[i+1 : i+n] {
				iov = append(iov, p[28:])
				total += len(p) - 28
			}
			superHeader(t.hdr[:], pkts[i], total, len(pkts[i])-28)
		}
		t.iov = iov
		var werr error
		cerr := sc.Write(func(fd uintptr) bool {
			_, werr = unix.Writev(int(fd), iov)
			return !errors.Is(werr, unix.EAGAIN)
		})
		if cerr != nil {
			return written, os.ErrClosed
		}
		if werr != nil {
			errs = append(errs, werr)
		} else {
			written += n
		}
		i += n
	}
	return written, errors.Join(errs...)
}

// Close closes the device; the kernel removes it.
func (t *segmentingTUN) Close() error {
	var err error
	t.closed.Do(func() {
		err = t.file.Close()
		close(t.events)
	})
	return err
}
