// Command flood is the broadcast and multicast probe of the e2e tests, copied into test containers with docker
// cp. "flood listen PORT GROUP LOCALIP SECONDS" joins GROUP on the interface holding LOCALIP, prints every
// datagram it gets on PORT (broadcast, multicast or unicast) on a line of its own for SECONDS, then exits.
// "flood send DST PORT COUNT PREFIX LOCALIP" sends COUNT datagrams PREFIX-0 ... to DST (a broadcast or
// multicast address) out of the interface holding LOCALIP.
package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	var err error
	switch {
	case len(os.Args) == 6 && os.Args[1] == "listen":
		err = listen(os.Args[2], os.Args[3], os.Args[4], os.Args[5])
	case len(os.Args) == 7 && os.Args[1] == "send":
		err = send(os.Args[2], os.Args[3], os.Args[4], os.Args[5], os.Args[6])
	default:
		err = errors.New("usage: flood listen PORT GROUP LOCALIP SECONDS | flood send DST PORT COUNT PREFIX LOCALIP")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "flood:", err)
		os.Exit(1)
	}
}

// ifindexOf returns the index of the interface that holds ip.
func ifindexOf(ip string) (int, error) {
	want, err := netip.ParseAddr(ip)
	if err != nil {
		return 0, err
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return 0, err
	}
	for _, ifi := range ifs {
		addrs, _ := ifi.Addrs()
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr() == want {
				return ifi.Index, nil
			}
		}
	}
	return 0, fmt.Errorf("no interface holds %s", ip)
}

// withSocket runs f on the socket of pc.
func withSocket(pc net.PacketConn, f func(fd int) error) error {
	rc, err := pc.(*net.UDPConn).SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

func listen(port, group, local, seconds string) error {
	idx, err := ifindexOf(local)
	if err != nil {
		return err
	}
	secs, err := strconv.Atoi(seconds)
	if err != nil {
		return err
	}
	g, err := netip.ParseAddr(group)
	if err != nil {
		return err
	}
	pc, err := net.ListenPacket("udp4", ":"+port)
	if err != nil {
		return err
	}
	defer pc.Close()
	if err := withSocket(pc, func(fd int) error {
		return unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP,
			&unix.IPMreqn{Multiaddr: g.As4(), Ifindex: int32(idx)})
	}); err != nil {
		return fmt.Errorf("join %s: %w", group, err)
	}
	fmt.Println("listening")
	_ = pc.SetReadDeadline(time.Now().Add(time.Duration(secs) * time.Second))
	buf := make([]byte, 1500)
	for {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return nil
			}
			return err
		}
		fmt.Println(string(buf[:n]))
	}
}

func send(dst, port, count, prefix, local string) error {
	idx, err := ifindexOf(local)
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(count)
	if err != nil {
		return err
	}
	laddr, err := netip.ParseAddr(local)
	if err != nil {
		return err
	}
	pc, err := net.ListenPacket("udp4", net.JoinHostPort(laddr.String(), "0"))
	if err != nil {
		return err
	}
	defer pc.Close()
	if err := withSocket(pc, func(fd int) error {
		return errors.Join(
			syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_BROADCAST, 1),
			unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, 1),
			unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, &unix.IPMreqn{Ifindex: int32(idx)}),
			// Broadcast to a subnet that is not routed through this interface would leave by the default
			// route: bind the socket to the interface.
			bindToIndex(fd, idx))
	}); err != nil {
		return err
	}
	to, err := net.ResolveUDPAddr("udp4", net.JoinHostPort(dst, port))
	if err != nil {
		return err
	}
	for i := range n {
		if _, err := pc.WriteTo([]byte(fmt.Sprintf("%s-%d", prefix, i)), to); err != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

func bindToIndex(fd, idx int) error {
	ifi, err := net.InterfaceByIndex(idx)
	if err != nil {
		return err
	}
	return unix.BindToDevice(fd, ifi.Name)
}
