package mesh

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// sealStream builds an encrypted stream as a peer with key writes it:
// label header, type, length, [version][nonce][ciphertext and tag].
func sealStream(t testing.TB, key []byte, label string, plain []byte) []byte {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	n := gcmVersionBytes + gcmNonceBytes + len(plain) + gcmTagBytes
	head := []byte{encryptMsg, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(head[1:], uint32(n))
	nonce := make([]byte, gcmNonceBytes)
	_, _ = rand.Read(nonce)
	payload := append([]byte{1}, nonce...)
	payload = gcm.Seal(payload, nonce, plain, append(append([]byte(nil), head...), label...))
	out := append([]byte{hasLabelMsg, byte(len(label))}, label...)
	return append(append(out, head...), payload...)
}

func TestGuardCheck(t *testing.T) {
	k1, k2 := testKey(1), testKey(2)
	valid := sealStream(t, k1, gossipLabel, []byte("push/pull state"))
	big := append([]byte{hasLabelMsg, byte(len(gossipLabel))}, gossipLabel...)
	big = append(big, encryptMsg, 0x01, 0x00, 0x00, 0x01) // claims 16 MiB + 1
	tests := []struct {
		name    string
		keys    [][]byte
		plainOK bool
		stream  []byte
		want    string
	}{
		{"valid", [][]byte{k1}, false, valid, ""},
		{"valid under the second key", [][]byte{k2, k1}, false, valid, ""},
		{"other key", [][]byte{k2}, false, valid, refusedAuth},
		{"tampered", [][]byte{k1}, false, append(valid[:len(valid)-1:len(valid)-1], valid[len(valid)-1]^1), refusedAuth},
		{"wrong label", [][]byte{k1}, false, sealStream(t, k1, "other", []byte("x")), refusedLabel},
		{"no label", [][]byte{k1}, false, valid[2+len(gossipLabel):], refusedLabel},
		{"too large", [][]byte{k1}, false, big, refusedSize},
		{"truncated", [][]byte{k1}, false, valid[:len(valid)-3], refusedTruncate},
		{"plain refused", [][]byte{k1}, false, append(valid[:2+len(gossipLabel):2+len(gossipLabel)], 6, 1, 2), refusedPlain},
		{"plain during a rollout", [][]byte{k1}, true, append(valid[:2+len(gossipLabel):2+len(gossipLabel)], 6, 1, 2), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newStreamGuard(guardLimits{}, gossipLabel, func() [][]byte { return tt.keys }, tt.plainOK, nil)
			in := append([]byte(nil), tt.stream...)
			prefix, reason := g.check(bytes.NewReader(in), netip.MustParseAddr("10.0.0.1"))
			if reason != tt.want {
				t.Fatalf("reason %q, want %q", reason, tt.want)
			}
			if reason == "" && !bytes.HasPrefix(tt.stream, prefix) {
				t.Errorf("the bytes handed on are not the stream's own")
			}
			if tt.want == "" && tt.name != "plain during a rollout" && !bytes.Equal(prefix, tt.stream) {
				t.Errorf("an authenticated stream was changed (%d bytes, want %d)", len(prefix), len(tt.stream))
			}
			if g.reservedAll != 0 || len(g.reserved) != 0 {
				t.Errorf("budget not given back: %d bytes, %v", g.reservedAll, g.reserved)
			}
		})
	}
}

func TestGuardBounds(t *testing.T) {
	g := newStreamGuard(guardLimits{maxStream: 10, budget: 15, perSource: 2, streamsTotal: 3}, "", nil, true, nil)
	a, b, c := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3")
	for i, want := range []bool{true, true, false} {
		if got := g.enter(a); got != want {
			t.Errorf("stream %d of one source admitted: %v, want %v (2 per source)", i+1, got, want)
		}
	}
	if !g.enter(b) || g.enter(c) {
		t.Error("3 streams in all, not 4")
	}
	g.leave(a)
	if !g.enter(c) {
		t.Error("a stream that left does not free its place")
	}
	if !g.reserve(a, 10) || g.reserve(a, 1) {
		t.Error("a source may hold the largest stream, no more")
	}
	if !g.reserve(b, 5) || g.reserve(c, 1) {
		t.Error("all sources together may hold the budget, no more")
	}
	g.release(a, 10)
	if !g.reserve(c, 10) {
		t.Error("a released reservation is not given back")
	}
}

// TestStrangerFloodCostsBoundedMemory is the attack of SECURITY.md's "before
// the key" row: streams from an address without the key that carry the
// gossip label, the encrypted type and a claimed length, then as many bytes
// as the host will read. The host's heap grows by at most the guard's
// budget, and a member joins and replicates during the flood.
func TestStrangerFloodCostsBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("floods for a few seconds")
	}
	key := testKey(1)
	a := startNode(t, nodeOpts{name: "a", keys: [][]byte{key}})
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sent atomic.Int64
	for i := range 24 {
		claim := uint32(DefaultMaxStreamBytes) // the largest claim the guard reads
		if i%2 == 1 {
			claim = 20<<20 - 1 // just under memberlist's own limit
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			floodStream(a.addr(), claim, stop, &sent)
		}()
	}
	var peak atomic.Uint64
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
		}
	}()

	b := startNode(t, nodeOpts{name: "b", keys: [][]byte{key}, peers: []string{a.addr()}})
	waitFor(t, 10*time.Second, "b joins a during the flood", func() bool { return a.Members() == 2 && b.Members() == 2 })
	b.Set("network", "during-flood", []byte("x"))
	waitFor(t, 10*time.Second, "the entry reaches a", func() bool { _, ok := a.Get("network", "during-flood"); return ok })
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()
	<-sampled

	grew := int64(peak.Load()) - int64(before.HeapInuse)
	t.Logf("flood sent %d MiB; heap in use grew by at most %d MiB; %d streams refused",
		sent.Load()>>20, grew>>20, a.Stats().StreamsRefused)
	if grew > 64<<20 {
		t.Errorf("the heap grew by %d MiB during the flood, want at most 64 (the guard's budget is %d MiB)",
			grew>>20, defaultPreAuthBudget>>20)
	}
	if a.Stats().StreamsRefused == 0 {
		t.Error("no stream was refused")
	}
	if !a.rec.contains("refused before authentication") && !a.rec.contains("could not be decrypted") {
		t.Errorf("the flood was not logged: %q", *a.rec.lines)
	}
}

// floodStream opens streams to addr from 127.0.0.2, each with the label, the
// encrypted type and claim, followed by garbage, until stop.
func floodStream(addr string, claim uint32, stop <-chan struct{}, sent *atomic.Int64) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: time.Second}
	junk := make([]byte, 64<<10)
	for {
		select {
		case <-stop:
			return
		default:
		}
		conn, err := d.Dial("tcp", addr)
		if err != nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		head := append([]byte{hasLabelMsg, byte(len(gossipLabel))}, gossipLabel...)
		head = binary.BigEndian.AppendUint32(append(head, encryptMsg), claim)
		go func() { <-stop; _ = conn.Close() }()
		if _, err := conn.Write(head); err == nil {
			n, _ := io.Copy(conn, io.LimitReader(repeatReader(junk), int64(claim)))
			sent.Add(n)
		}
		_ = conn.Close()
	}
}

// repeatReader reads b again and again.
type repeatReader []byte

func (r repeatReader) Read(p []byte) (int, error) { return copy(p, r), nil }

func TestStrangerPacketRate(t *testing.T) {
	member := netip.MustParseAddr("10.0.0.1")
	dropped := 0
	tr := &guardedTransport{isMember: func(a netip.Addr) bool { return a == member },
		onDrop: func(netip.Addr) { dropped++ }}
	tr.packets = newStrangerLimiter()
	from := func(a netip.Addr) *memberlist.Packet {
		return &memberlist.Packet{From: net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, 6783))}
	}
	passed := 0
	for range 10 * strangerPacketBurst {
		if tr.allowPacket(from(netip.MustParseAddr("10.0.0.9"))) {
			passed++
		}
	}
	if passed > strangerPacketBurst+strangerPacketRate || dropped == 0 {
		t.Errorf("%d of %d stranger datagrams passed, %d dropped", passed, 10*strangerPacketBurst, dropped)
	}
	for range 10 * strangerPacketBurst {
		if !tr.allowPacket(from(member)) {
			t.Fatal("a member's datagram was dropped")
		}
	}
}

func TestThrottleOneLinePerPeriod(t *testing.T) {
	rec := newRecorder()
	b := newLogBridge(slog.New(rec), nil)
	now := time.Now()
	for i := range 5000 {
		addr := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).String()
		b.keyMismatch(addr, "flood", now.Add(time.Duration(i)*time.Millisecond))
	}
	if n := rec.count("could not be decrypted"); n != 1 {
		t.Errorf("%d lines for 5,000 failures from 5,000 addresses within %s, want 1", n, decryptRepeat)
	}
	b.keyMismatch("10.9.9.9", "after", now.Add(decryptRepeat+5*time.Second))
	if !rec.contains("held_back_lines=4999") {
		t.Errorf("the next line does not say what was held back: %q", *rec.lines)
	}
}

// FuzzGuardCheck: whatever a stream holds, the guard never panics, hands on
// only the stream's own bytes and gives its budget back.
func FuzzGuardCheck(f *testing.F) {
	f.Add(sealStream(f, testKey(1), gossipLabel, []byte("state")))
	f.Add([]byte{hasLabelMsg, 7, 'w', 'e', 'a', 'v', 'e', 'g', 'o', encryptMsg, 0, 0, 0, 30})
	f.Add([]byte{encryptMsg, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, stream []byte) {
		for _, keys := range [][][]byte{{testKey(1)}, {testKey(2), testKey(1)}} {
			g := newStreamGuard(guardLimits{}, gossipLabel, func() [][]byte { return keys }, false, nil)
			prefix, reason := g.check(bytes.NewReader(stream), netip.MustParseAddr("10.0.0.1"))
			if reason == "" && !bytes.HasPrefix(stream, prefix) {
				t.Fatalf("handed on bytes that are not the stream's")
			}
			if g.reservedAll != 0 {
				t.Fatalf("%d bytes of budget not given back", g.reservedAll)
			}
		}
	})
}
