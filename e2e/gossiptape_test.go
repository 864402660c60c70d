//go:build linux

package e2e

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"time"
)

// gossipTape records, as an eavesdropper on the underlay would, the gossip that one host sends another: the
// UDP datagrams and the bytes of each TCP connection to the gossip port, read with a packet socket in the
// receiver's namespace. Replay sends them again from the sender's namespace. The tape holds what was sent,
// encrypted with the cluster key: it is valid gossip, only old.
type gossipTape struct {
	from, to netip.Addr
	fd       int
	done     chan struct{}
	wg       sync.WaitGroup

	mu        sync.Mutex
	datagrams [][]byte
	segments  map[uint16][]tcpSegment // by the sender's port: one connection each
}

type tcpSegment struct {
	seq     uint32
	payload []byte
}

// recordGossip starts recording what from sends to on the gossip port, in to's namespace.
func recordGossip(to *Host, from netip.Addr) (*gossipTape, error) {
	tp := &gossipTape{from: from, to: to.IP, done: make(chan struct{}), segments: map[uint16][]tcpSegment{}}
	fd, err := packetSocket(to.NSPath(), syscall.SOCK_DGRAM, syscall.ETH_P_IP)
	if err != nil {
		return nil, fmt.Errorf("packet socket in %s: %w", to.Name, err)
	}
	tp.fd = fd
	tp.wg.Add(1)
	go tp.read()
	return tp, nil
}

func (tp *gossipTape) read() {
	defer tp.wg.Done()
	buf := make([]byte, 1<<17)
	for {
		select {
		case <-tp.done:
			return
		default:
		}
		n, _, err := syscall.Recvfrom(tp.fd, buf, 0)
		if err != nil || n < 20 {
			continue
		}
		tp.packet(buf[:n])
	}
}

// packet keeps an IPv4 packet (SOCK_DGRAM: no link header) from tp.from to tp.to's gossip port.
func (tp *gossipTape) packet(p []byte) {
	ihl := int(p[0]&0x0f) * 4
	if p[0]>>4 != 4 || len(p) < ihl+20 {
		return
	}
	src, dst := netip.AddrFrom4([4]byte(p[12:16])), netip.AddrFrom4([4]byte(p[16:20]))
	if src != tp.from || dst != tp.to {
		return
	}
	total := min(int(binary.BigEndian.Uint16(p[2:4])), len(p))
	l4 := p[ihl:total]
	switch p[9] {
	case syscall.IPPROTO_UDP:
		if binary.BigEndian.Uint16(l4[2:4]) == gossipPort && len(l4) > 8 {
			tp.mu.Lock()
			tp.datagrams = append(tp.datagrams, slices.Clone(l4[8:]))
			tp.mu.Unlock()
		}
	case syscall.IPPROTO_TCP:
		off := int(l4[12]>>4) * 4
		if binary.BigEndian.Uint16(l4[2:4]) != gossipPort || len(l4) <= off {
			return
		}
		sport := binary.BigEndian.Uint16(l4[0:2])
		tp.mu.Lock()
		tp.segments[sport] = append(tp.segments[sport], tcpSegment{seq: binary.BigEndian.Uint32(l4[4:8]),
			payload: slices.Clone(l4[off:])})
		tp.mu.Unlock()
	}
}

// streamBytes returns the payload bytes of the connections recorded so far.
func (tp *gossipTape) streamBytes() int {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	n := 0
	for _, segs := range tp.segments {
		for _, s := range segs {
			n += len(s.payload)
		}
	}
	return n
}

// stop ends the recording and returns the datagrams and the byte streams of the connections, in order.
func (tp *gossipTape) stop() (datagrams, streams [][]byte) {
	close(tp.done)
	tp.wg.Wait()
	_ = syscall.Close(tp.fd)
	tp.mu.Lock()
	defer tp.mu.Unlock()
	for _, segs := range tp.segments {
		streams = append(streams, reassemble(segs))
	}
	return tp.datagrams, streams
}

// reassemble orders a connection's segments by sequence number and drops retransmissions.
func reassemble(segs []tcpSegment) []byte {
	slices.SortStableFunc(segs, func(a, b tcpSegment) int { return int(int32(a.seq - b.seq)) })
	var out []byte
	var next uint32
	for i, s := range segs {
		end := s.seq + uint32(len(s.payload))
		if i > 0 {
			if int32(end-next) <= 0 {
				continue // all of it already taken
			}
			if behind := int32(next - s.seq); behind > 0 {
				s.payload = s.payload[behind:]
			}
		}
		out = append(out, s.payload...)
		next = end
	}
	return out
}

// replayGossip sends the recorded datagrams and streams again from sender's namespace (so from the address
// they came from) to target's gossip port, and returns how many of each it sent.
func replayGossip(sender, target *Host, datagrams, streams [][]byte) (int, int, error) {
	to := netip.AddrPortFrom(target.IP, gossipPort)
	var sentD, sentS int
	err := inNetns(sender.NSPath(), func() error {
		conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(to))
		if err != nil {
			return err
		}
		for _, d := range datagrams {
			if _, err := conn.Write(d); err == nil {
				sentD++
			}
		}
		_ = conn.Close()
		for _, s := range streams {
			c, err := net.DialTimeout("tcp", to.String(), 2*time.Second)
			if err != nil {
				continue
			}
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write(s); err == nil {
				sentS++
			}
			buf := make([]byte, 4096)
			for { // read the answer, as the peer that started the exchange would
				if _, err := c.Read(buf); err != nil {
					break
				}
			}
			_ = c.Close()
		}
		return nil
	})
	return sentD, sentS, err
}
