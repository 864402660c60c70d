package mesh

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Streams before authentication. memberlist reads a whole gossip stream
// into memory before it tries to decrypt it, and accepts claims of up to
// 20 MiB from anyone who reaches the port. The guard stands in front of
// it: it reads a stream's header itself, refuses claims above MaxStreamBytes
// at once, reserves the claimed bytes from a budget shared by every stream
// still unauthenticated (and a smaller share per source address), reads the
// payload into one buffer of exactly that size and checks its AES-GCM tag
// with the installed keys. Only a stream that authenticates reaches
// memberlist; its reservation is then returned. So what strangers can make
// this host hold is at most the budget, whatever they send, and a stream
// that sends slowly is cut at its deadline, which does not move.
//
// The tag is checked by decrypting the payload in place and sealing it again
// with the same key and nonce, which gives back the same bytes: memberlist
// then decrypts it as it always has. A failed Open clears its output, so
// while more than one key is installed (a rotation) each key is tried on a
// scratch copy, and the stream reserves twice its size.

// Stream layout, as memberlist writes it: an optional label header
// [hasLabelMsg][length][label], then a message type; an encrypted message
// continues with a 4-byte big-endian payload length and the payload
// [version][nonce][ciphertext and tag], authenticated together with the
// 5 bytes of type and length and the label.
const (
	hasLabelMsg     = 244
	encryptMsg      = 10
	gcmVersionBytes = 1
	gcmNonceBytes   = 12
	gcmTagBytes     = 16
	maxEncryptVsn   = 1
)

// Guard defaults. A legitimate stream is a full state (push/pull), an entry
// too large for gossip, or a TCP probe.
const (
	// DefaultMaxStreamBytes is the largest encrypted stream accepted: the
	// largest full state this release can push, well below memberlist's
	// own 20 MiB.
	DefaultMaxStreamBytes = 16 << 20
	// defaultPreAuthBudget bounds the bytes held for all streams not yet
	// authenticated.
	defaultPreAuthBudget = 24 << 20
	// defaultStreamsPerSource and defaultStreamsTotal bound the streams
	// open at once (authenticated or not) from one address and in all.
	defaultStreamsPerSource = 8
	defaultStreamsTotal     = 64
	// preAuthTimeout is how long a stream has from its arrival to
	// authenticate; it is not extended by the bytes that do arrive.
	preAuthTimeout = 5 * time.Second
)

// Reasons a stream is refused, as counted in Stats and logged.
const (
	refusedBusy     = "too many streams"
	refusedLabel    = "wrong label"
	refusedSize     = "too large"
	refusedBudget   = "over the budget"
	refusedAuth     = "not authenticated"
	refusedPlain    = "not encrypted"
	refusedTruncate = "cut short or too slow"
)

var errRefused = errors.New("gossip stream refused")

// guardLimits are the guard's bounds; zero fields take the defaults.
type guardLimits struct {
	maxStream, budget       int
	perSource, streamsTotal int
	timeout                 time.Duration
}

func (l guardLimits) withDefaults() guardLimits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.maxStream, DefaultMaxStreamBytes)
	def(&l.budget, defaultPreAuthBudget)
	def(&l.perSource, defaultStreamsPerSource)
	def(&l.streamsTotal, defaultStreamsTotal)
	if l.timeout <= 0 {
		l.timeout = preAuthTimeout
	}
	l.maxStream = min(l.maxStream, l.budget)
	return l
}

// streamGuard admits incoming gossip streams. It is safe for concurrent use.
type streamGuard struct {
	limits guardLimits
	label  string
	// keys returns the installed keys; nil for an open cluster.
	keys func() [][]byte
	// plainOK: unencrypted streams are let through (open cluster, or a
	// key rollout that still reads clear text).
	plainOK bool
	refused func(reason string, from netip.Addr)

	// mu guards open, reserved and the totals.
	mu          sync.Mutex
	open        map[netip.Addr]int // streams open per source
	reserved    map[netip.Addr]int // bytes reserved per source
	openAll     int
	reservedAll int
	// spares are payload buffers of streams already checked, kept for the
	// next ones (at most the budget's bytes in all), so that a flood of
	// streams reuses memory instead of leaving garbage: the collector lets
	// a process grow to about twice what it holds, and garbage counts.
	spares     [][]byte
	spareBytes int
}

func newStreamGuard(l guardLimits, label string, keys func() [][]byte, plainOK bool,
	refused func(string, netip.Addr)) *streamGuard {
	return &streamGuard{limits: l.withDefaults(), label: label, keys: keys, plainOK: plainOK,
		refused: refused, open: map[netip.Addr]int{}, reserved: map[netip.Addr]int{}}
}

// enter counts a new stream from src; false means it is over a bound.
func (g *streamGuard) enter(src netip.Addr) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.openAll >= g.limits.streamsTotal || g.open[src] >= g.limits.perSource {
		return false
	}
	g.openAll++
	g.open[src]++
	return true
}

func (g *streamGuard) leave(src netip.Addr) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.openAll--
	if g.open[src]--; g.open[src] <= 0 {
		delete(g.open, src)
	}
}

// reserve takes n bytes of the budget for src: a source may hold at most
// the largest stream, all sources together the budget.
func (g *streamGuard) reserve(src netip.Addr, n int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.reservedAll+n > g.limits.budget || g.reserved[src]+n > g.limits.maxStream {
		return false
	}
	g.reservedAll += n
	g.reserved[src] += n
	return true
}

func (g *streamGuard) release(src netip.Addr, n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.reservedAll -= n
	if g.reserved[src] -= n; g.reserved[src] <= 0 {
		delete(g.reserved, src)
	}
}

// admit checks a newly accepted stream and returns the connection to hand
// to memberlist, which replays what the guard read; on error the stream has
// been closed and counted.
func (g *streamGuard) admit(conn net.Conn) (net.Conn, error) {
	src := remoteAddr(conn)
	if !g.enter(src) {
		return nil, g.refuse(conn, src, refusedBusy)
	}
	gc := &guardedConn{Conn: conn, leave: func() { g.leave(src) }}
	if err := conn.SetReadDeadline(time.Now().Add(g.limits.timeout)); err != nil {
		_ = gc.Close()
		return nil, fmt.Errorf("%w: %w", errRefused, err)
	}
	prefix, reason := g.check(conn, src)
	if reason == refusedAuth || reason == refusedPlain {
		sayNotOurKey(conn)
	}
	if reason != "" {
		_ = gc.Close()
		return nil, g.refuse(nil, src, reason)
	}
	_ = conn.SetReadDeadline(time.Time{}) // memberlist sets its own
	gc.r = io.MultiReader(bytes.NewReader(prefix), conn)
	return gc, nil
}

func (g *streamGuard) refuse(conn net.Conn, src netip.Addr, reason string) error {
	if conn != nil {
		_ = conn.Close()
	}
	if g.refused != nil {
		g.refused(reason, src)
	}
	return fmt.Errorf("%w from %s: %s", errRefused, src, reason)
}

// check reads the stream's header and, for an encrypted message, its
// payload, and authenticates it. It returns the bytes read, or the reason
// to refuse the stream.
func (g *streamGuard) check(r io.Reader, src netip.Addr) ([]byte, string) {
	var head [6]byte
	if _, err := io.ReadFull(r, head[:1]); err != nil {
		return nil, refusedTruncate
	}
	prefix := append([]byte(nil), head[0])
	label := ""
	if head[0] == hasLabelMsg {
		if _, err := io.ReadFull(r, head[1:2]); err != nil {
			return nil, refusedTruncate
		}
		lb := make([]byte, head[1])
		if _, err := io.ReadFull(r, lb); err != nil {
			return nil, refusedTruncate
		}
		label = string(lb)
		prefix = append(append(prefix, head[1]), lb...)
		if _, err := io.ReadFull(r, head[:1]); err != nil {
			return nil, refusedTruncate
		}
		prefix = append(prefix, head[0])
	}
	if label != g.label {
		return nil, refusedLabel
	}
	keys := g.keys()
	if head[0] != encryptMsg {
		if len(keys) > 0 && !g.plainOK {
			return nil, refusedPlain
		}
		return prefix, ""
	}
	if len(keys) == 0 {
		return prefix, "" // memberlist refuses it with its own sentence
	}
	if _, err := io.ReadFull(r, head[1:5]); err != nil {
		return nil, refusedTruncate
	}
	n := int(binary.BigEndian.Uint32(head[1:5]))
	if n > g.limits.maxStream || n < gcmVersionBytes+gcmNonceBytes+gcmTagBytes {
		return nil, refusedSize
	}
	held := n
	if len(keys) > 1 {
		held = 2 * n
	}
	if !g.reserve(src, held) {
		return nil, refusedBudget
	}
	defer g.release(src, held)
	payload := g.buffer(n)
	defer g.recycle(payload) // what is returned is a copy
	if _, err := io.ReadFull(r, payload); err != nil {
		return nil, refusedTruncate
	}
	aad := append(append([]byte(nil), encryptMsg), head[1:5]...)
	if !authenticate(keys, payload, append(aad, label...)) {
		return nil, refusedAuth
	}
	return append(append(prefix, head[1:5]...), payload...), ""
}

// buffer returns a buffer of n bytes, a spare one if one is large enough.
func (g *streamGuard) buffer(n int) []byte {
	g.mu.Lock()
	for i, b := range g.spares {
		if cap(b) >= n {
			g.spares = append(g.spares[:i], g.spares[i+1:]...)
			g.spareBytes -= cap(b)
			g.mu.Unlock()
			return b[:n]
		}
	}
	g.mu.Unlock()
	return make([]byte, n)
}

// recycle keeps b for a later stream while the spares stay within the
// budget.
func (g *streamGuard) recycle(b []byte) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.spareBytes+cap(b) <= g.limits.budget {
		g.spares = append(g.spares, b)
		g.spareBytes += cap(b)
	}
}

// authenticate reports whether one of keys opens payload with aad, and
// leaves payload as it was.
func authenticate(keys [][]byte, payload, aad []byte) bool {
	if payload[0] > maxEncryptVsn {
		return false
	}
	work := payload
	if len(keys) > 1 {
		work = make([]byte, len(payload))
	}
	for _, k := range keys {
		if len(keys) > 1 {
			copy(work, payload)
		}
		if openInPlace(k, work, aad) {
			return true
		}
	}
	return false
}

// openInPlace checks msg's tag under key by decrypting it in place, then
// seals it again, which restores msg. On a wrong tag msg is cleared.
func openInPlace(key, msg, aad []byte) bool {
	block, err := aes.NewCipher(key)
	if err != nil {
		return false
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return false
	}
	nonce := msg[gcmVersionBytes : gcmVersionBytes+gcmNonceBytes]
	sealed := msg[gcmVersionBytes+gcmNonceBytes:]
	plain, err := gcm.Open(sealed[:0], nonce, sealed, aad)
	if err != nil {
		return false
	}
	gcm.Seal(plain[:0], nonce, plain, aad)
	return true
}

// sayNotOurKey answers a stream that no installed key opens with a short
// message marked encrypted that no key opens either. memberlist used to
// answer such a stream with an error under this host's key, which the
// sender could not decrypt; so the sender still logs that it cannot decrypt
// this host's gossip, which is the sentence its operator needs.
func sayNotOurKey(conn net.Conn) {
	var msg [5 + gcmVersionBytes + gcmNonceBytes + gcmTagBytes]byte
	msg[0] = encryptMsg
	binary.BigEndian.PutUint32(msg[1:5], uint32(len(msg)-5))
	msg[5] = maxEncryptVsn
	_, _ = rand.Read(msg[6:])
	_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = conn.Write(msg[:])
}

// guardedConn is an admitted stream: reads replay what the guard read, and
// Close gives its place back once.
type guardedConn struct {
	net.Conn
	r     io.Reader
	once  sync.Once
	leave func()
}

func (c *guardedConn) Read(p []byte) (int, error) {
	if c.r == nil {
		return c.Conn.Read(p)
	}
	return c.r.Read(p)
}

func (c *guardedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.leave)
	return err
}

// remoteAddr is the source address of conn, without its port.
func remoteAddr(conn net.Conn) netip.Addr {
	if ap, err := netip.ParseAddrPort(conn.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}
