//go:build linux

package e2e

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Before the key: what a stranger on the underlay can make a member hold by opening gossip streams that look
// encrypted and claim a large payload.
const (
	floodStreams = 24
	// floodClaim is just under memberlist's own 20 MiB limit on a stream.
	floodClaim = 20<<20 - 1
	// floodRSSLimit is how much a member's RSS may grow during the flood.
	floodRSSLimit = 64 << 10 // KiB
	floodFor      = 6 * time.Second
)

// strangerFlood: h4, without the key, opens floodStreams streams to h1's gossip port at once, over and over,
// each with the gossip label, the encrypted type and a claimed length (half just under memberlist's limit,
// half at the largest the plugin reads before authentication), then as many bytes as h1 reads. h1's plugin
// grows by at most floodRSSLimit, keeps running and answering, and keeps its members alive throughout.
func (s *security) strangerFlood(t *testing.T) {
	pid, err := pluginPID(s.h1)
	if err != nil {
		t.Fatal(err)
	}
	before, err := pluginRSS(s.h1)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var sent atomic.Int64
	var wg sync.WaitGroup
	target := net.JoinHostPort(s.h1.IP.String(), fmt.Sprint(gossipPort))
	for i := range floodStreams {
		claim := uint32(floodClaim)
		if i%2 == 1 {
			claim = 16 << 20
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			gossipFlood(s.h4, target, claim, stop, &sent)
		}()
	}
	peak, problems := before, []string{}
	end := time.Now().Add(floodFor)
	for time.Now().Before(end) {
		time.Sleep(300 * time.Millisecond)
		if rss, err := pluginRSS(s.h1); err == nil {
			peak = max(peak, rss)
		}
		st, err := s.h1.Status()
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		for _, h := range []*Host{s.h2, s.h3} {
			if state := st.peerState(h.IP.String()); state != "alive" {
				problems = append(problems, fmt.Sprintf("h1 sees %s as %q", h.Name, state))
			}
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("the flood sent %d MiB to h1; h1's plugin RSS %.0f MiB before, %.0f MiB at its peak",
		sent.Load()>>20, before/1024, peak/1024)
	if sent.Load() < 64<<20 {
		t.Errorf("the flood sent only %d MiB: it did not test anything", sent.Load()>>20)
	}
	if peak-before > floodRSSLimit {
		t.Errorf("h1's plugin grew by %.0f MiB during the flood, want at most %d", (peak-before)/1024, floodRSSLimit>>10)
	}
	if len(problems) > 0 {
		t.Errorf("during the flood: %q", problems)
	}
	if now, err := pluginPID(s.h1); err != nil || now != pid {
		t.Errorf("h1's plugin was restarted during the flood (pid %d, now %d, %v)", pid, now, err)
	}
}

// strangerDatagrams: 20,000 well-labelled datagrams that no key opens, sent to h1 from 40 addresses of h4, make
// at most two log lines (one per throttle period), not one per datagram or per address.
func (s *security) strangerDatagrams(t *testing.T) {
	const sources, each = 40, 500
	var addrs []string
	for i := range sources {
		a := AddrAt(UnderlayPrefix, 200+i).String()
		if _, err := Run(10*time.Second, "ip", "-n", s.h4.NetNS, "addr", "add", a+"/32", "dev", "eth0"); err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, a)
	}
	defer func() {
		for _, a := range addrs {
			_, _ = Run(10*time.Second, "ip", "-n", s.h4.NetNS, "addr", "del", a+"/32", "dev", "eth0")
		}
	}()
	before := floodLogLines(s.h1)
	st0, err := s.h1.Status()
	if err != nil {
		t.Fatal(err)
	}
	pkt := append([]byte{244, 7}, "weavego"...)
	pkt = append(pkt, 1) // encryption version 1, then a nonce and a tag that no key opens
	pkt = append(pkt, make([]byte, 200)...)
	if err := inNetns(s.h4.NSPath(), func() error {
		for _, a := range addrs {
			conn, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(a), 0)),
				net.UDPAddrFromAddrPort(netip.AddrPortFrom(s.h1.IP, gossipPort)))
			if err != nil {
				return err
			}
			for range each {
				_, _ = conn.Write(pkt)
			}
			_ = conn.Close()
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	lines := floodLogLines(s.h1) - before
	st, err := s.h1.Status()
	if err != nil {
		t.Fatal(err)
	}
	dropped := st.Security.DatagramsDropped - st0.Security.DatagramsDropped
	t.Logf("%d garbage datagrams from %d addresses made %d log lines on h1; it dropped %d over the strangers' rate",
		sources*each, sources, lines, dropped)
	if dropped == 0 {
		t.Errorf("h1 dropped none of %d datagrams from non-members sent at once", sources*each)
	}
	if lines > 2 {
		t.Errorf("%d garbage datagrams from %d addresses made %d log lines on h1, want at most 2",
			sources*each, sources, lines)
	}
	for _, h := range []*Host{s.h2, s.h3} {
		if state := st.peerState(h.IP.String()); state != "alive" {
			t.Errorf("after the datagrams h1 sees %s as %q", h.Name, state)
		}
	}
}

// floodLogLines counts the lines of h's plugin log that speak of gossip it could not open or refused.
func floodLogLines(h *Host) int {
	n := 0
	for _, l := range h.PluginLogs() {
		if strings.Contains(l, "could not be decrypted") || strings.Contains(l, "refused before authentication") ||
			strings.Contains(l, "memberlist") && strings.Contains(l, "level=ERROR") {
			n++
		}
	}
	return n
}

// gossipFlood opens streams from h's namespace to target until stop, each with the gossip label, the encrypted
// type and claim, then garbage.
func gossipFlood(h *Host, target string, claim uint32, stop <-chan struct{}, sent *atomic.Int64) {
	const label = "weavego"
	const hasLabelMsg, encryptMsg = 244, 10
	head := append([]byte{hasLabelMsg, byte(len(label))}, label...)
	head = binary.BigEndian.AppendUint32(append(head, encryptMsg), claim)
	junk := make([]byte, 64<<10)
	for {
		select {
		case <-stop:
			return
		default:
		}
		var conn net.Conn
		_ = inNetns(h.NSPath(), func() error {
			var err error
			conn, err = net.DialTimeout("tcp", target, time.Second)
			return err
		})
		if conn == nil {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		done := make(chan struct{})
		go func() {
			select {
			case <-stop:
			case <-done:
			}
			_ = conn.Close()
		}()
		if _, err := conn.Write(head); err == nil {
			n, _ := io.Copy(conn, io.LimitReader(junkReader(junk), int64(claim)))
			sent.Add(n)
		}
		close(done)
	}
}

// junkReader reads its bytes again and again.
type junkReader []byte

func (r junkReader) Read(p []byte) (int, error) { return copy(p, r), nil }
