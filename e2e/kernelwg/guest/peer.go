//go:build linux

package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/weavego/weavego/tunnel"
)

// runPeer is one peer, in its own network namespace: peer "a" sends, "b"
// echoes. Every datagram must arrive through the WireGuard device.
func runPeer(name string, log *slog.Logger) error {
	me, other := peers[0], peers[1]
	if name == peers[1].name {
		me, other = other, me
	}
	if err := underlay(me); err != nil {
		return err
	}
	t, err := tunnel.Open(tunnel.Config{StateDir: me.dir, Underlay: me.addr, Logger: log})
	if err != nil {
		return err
	}
	defer t.Close()
	if t.Kind() != "kernel" {
		return fmt.Errorf("the tunnel runs %s WireGuard, not the kernel's", t.Kind())
	}
	otherKey, err := tunnel.LoadOrCreateKey(other.dir)
	if err != nil {
		return err
	}
	if err := t.SetPeers([]tunnel.Peer{{Name: other.name, PublicKey: otherKey.PublicKey(), Addr: other.addr,
		Port: tunnel.DefaultPort}}); err != nil {
		return err
	}
	wg, err := netlink.LinkByName(tunnel.DefaultDevice)
	if err != nil {
		return err
	}
	conn, err := listen(me.addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	to := net.UDPAddrFromAddrPort(netip.AddrPortFrom(other.addr, tunnel.DefaultVXLANPort))
	if name == peers[0].name {
		err = send(conn, to, wg.Attrs().Index)
	} else {
		err = echo(conn, wg.Attrs().Index)
	}
	if err != nil {
		return err
	}
	st, err := t.Status()
	if err != nil {
		return err
	}
	ps, ok := st[otherKey.PublicKey()]
	if !ok || ps.LastHandshake.IsZero() || ps.RxBytes == 0 || ps.TxBytes == 0 {
		return fmt.Errorf("WireGuard status of peer %s shows no session: %+v", other.name, ps)
	}
	fmt.Printf("peer %s: kernel WireGuard, handshake done, rx %d tx %d bytes\n", name, ps.RxBytes, ps.TxBytes)
	return nil
}

// underlay configures loopback and the veth end.
func underlay(me peer) error {
	lo, err := netlink.LinkByName("lo")
	if err == nil {
		err = netlink.LinkSetUp(lo)
	}
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	l, err := waitLink(me.link)
	if err != nil {
		return fmt.Errorf("veth end %s never arrived: %w", me.link, err)
	}
	a := &netlink.Addr{IPNet: &net.IPNet{IP: me.addr.AsSlice(), Mask: net.CIDRMask(24, 32)}}
	if err := netlink.AddrAdd(l, a); err != nil {
		return err
	}
	return netlink.LinkSetUp(l)
}

// listen opens the encrypted VXLAN port, reporting each datagram's
// incoming interface.
func listen(addr netip.Addr) (*net.UDPConn, error) {
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, tunnel.DefaultVXLANPort)))
	if err != nil {
		return nil, err
	}
	raw, err := conn.SyscallConn()
	if err == nil {
		cerr := raw.Control(func(fd uintptr) {
			err = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_PKTINFO, 1)
		})
		err = errors.Join(err, cerr)
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// receive reads one datagram and fails unless it came through the device
// of index wg.
func receive(conn *net.UDPConn, buf []byte, wg int) (int, *net.UDPAddr, error) {
	oob := make([]byte, 128)
	n, oobn, _, from, err := conn.ReadMsgUDP(buf, oob)
	if err != nil {
		return 0, nil, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return 0, nil, err
	}
	for _, m := range msgs {
		if m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_PKTINFO && len(m.Data) >= 4 {
			if in := int(int32(binary.NativeEndian.Uint32(m.Data))); in != wg {
				return 0, nil, fmt.Errorf("a datagram from %s came in on interface %d, not through WireGuard (%d)",
					from, in, wg)
			}
			return n, from, nil
		}
	}
	return 0, nil, errors.New("a datagram came without its incoming interface")
}

// send sends numbered datagrams until three have come back, then "done".
func send(conn *net.UDPConn, to *net.UDPAddr, wg int) error {
	deadline := time.Now().Add(30 * time.Second)
	buf := make([]byte, 1500)
	got := 0
	for i := 0; got < 3; i++ {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of 3 echoes came back through WireGuard in 30 s", got)
		}
		msg := fmt.Sprintf("ping %d", i)
		if _, err := conn.WriteToUDP([]byte(msg), to); err != nil {
			return err
		}
		_ = conn.SetReadDeadline(time.Now().Add(time.Second))
		n, _, err := receive(conn, buf, wg)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			continue
		}
		if err != nil {
			return err
		}
		if string(buf[:n]) == msg {
			got++
		}
	}
	for range 3 {
		_, _ = conn.WriteToUDP([]byte("done"), to)
	}
	return nil
}

// echo sends each datagram back until "done"; at least one must have come.
func echo(conn *net.UDPConn, wg int) error {
	_ = conn.SetReadDeadline(time.Now().Add(40 * time.Second))
	buf := make([]byte, 1500)
	echoed := 0
	for {
		n, from, err := receive(conn, buf, wg)
		if err != nil {
			return fmt.Errorf("after %d echoes: %w", echoed, err)
		}
		if string(buf[:n]) == "done" {
			if echoed == 0 {
				return errors.New("nothing to echo came before done")
			}
			return nil
		}
		if _, err := conn.WriteToUDP(buf[:n], from); err != nil {
			return err
		}
		echoed++
	}
}
