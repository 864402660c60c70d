package mesh

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"
)

// passwordHint is the sentence logged when gossip cannot be decrypted.
const passwordHint = "check that every host has the cluster key (KEY, or the same PASSWORD): see docs/keys.md"

// decryptRepeat is how often a decrypt failure from one address is logged:
// a peer with the wrong password retries, and old members keep gossiping to
// a host whose password changed.
const decryptRepeat = 30 * time.Second

// decryptMarkers are parts of the memberlist error texts that mean the two
// sides do not share a key ("no installed keys could decrypt the message",
// "Decrypt packet failed") or only one side has one.
var decryptMarkers = [...]string{
	"decrypt",
	"encryption is not configured",
	"remote state is not encrypted",
}

// suspectPrefix and suspectSuffix frame the line memberlist logs when our
// own probe of a peer failed; it has no delegate call for that event.
const (
	suspectPrefix = "Suspect "
	suspectSuffix = " has failed, no acks received"
)

// logBridge is the io.Writer behind memberlist's *log.Logger: it turns
// each line into a slog record, recognises decrypt failures and rewrites
// them as a sentence an operator can act on, and reports our own failed
// probes to onSuspect. Lines that anyone on the network can cause (decrypt
// failures, refused streams) go through one throttle each, whatever their
// source address, so a flood from many addresses logs one line a period.
type logBridge struct {
	log       *slog.Logger
	onSuspect func(name string)
	decrypt   *throttle
	refused   *throttle
}

func newLogBridge(log *slog.Logger, onSuspect func(string)) *logBridge {
	return &logBridge{log: log, onSuspect: onSuspect,
		decrypt: newThrottle(decryptRepeat), refused: newThrottle(decryptRepeat)}
}

// Write handles one line from log.Logger, which writes each line in one call.
func (b *logBridge) Write(p []byte) (int, error) {
	level, msg := parseLogLine(string(p))
	if isDecryptFailure(msg) {
		b.decryptFailure(msg, time.Now())
		return len(p), nil
	}
	if name, ok := suspectName(msg); ok && b.onSuspect != nil {
		b.onSuspect(name)
	}
	b.log.Log(context.Background(), level, msg, "component", "memberlist")
	return len(p), nil
}

func (b *logBridge) decryptFailure(msg string, now time.Time) {
	b.keyMismatch(fromAddr(msg), msg, now)
}

// keyMismatch logs gossip from addr that no installed key opens.
func (b *logBridge) keyMismatch(addr, detail string, now time.Time) {
	ok, held := b.decrypt.pass(addr, now)
	if !ok {
		return
	}
	b.log.Error("gossip from "+addr+" could not be decrypted: "+passwordHint,
		append(held.attrs(), "peer_addr", addr, "detail", detail)...)
}

// streamRefused logs a gossip stream the guard refused before it was
// authenticated; one that no key opens is a key mismatch.
func (b *logBridge) streamRefused(reason, addr string, now time.Time) {
	if reason == refusedAuth || reason == refusedPlain {
		b.keyMismatch(addr, "stream "+reason, now)
		return
	}
	ok, held := b.refused.pass(addr, now)
	if !ok {
		return
	}
	b.log.Warn("gossip stream from "+addr+" refused before authentication: "+reason,
		append(held.attrs(), "peer_addr", addr)...)
}

// packetDropped logs a datagram from a non-member dropped by the stranger
// rate.
func (b *logBridge) packetDropped(addr string, now time.Time) {
	b.streamRefused("datagrams from non-members over their rate", addr, now)
}

// throttle lets one line through per period and counts what it held back
// since the last line it let through.
type throttle struct {
	period time.Duration

	// mu guards last and held.
	mu   sync.Mutex
	last time.Time
	held heldBack
}

// heldBack is what a throttle held back: lines, and distinct addresses up
// to maxHeldAddrs.
type heldBack struct {
	lines int
	addrs map[string]struct{}
}

const maxHeldAddrs = 64

func newThrottle(period time.Duration) *throttle { return &throttle{period: period} }

// pass reports whether a line from addr may be logged now, and what was
// held back before it.
func (t *throttle) pass(addr string, now time.Time) (bool, heldBack) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.last.IsZero() && now.Sub(t.last) < t.period {
		t.held.lines++
		if t.held.addrs == nil {
			t.held.addrs = map[string]struct{}{}
		}
		if len(t.held.addrs) < maxHeldAddrs {
			t.held.addrs[addr] = struct{}{}
		}
		return false, heldBack{}
	}
	held := t.held
	t.last, t.held = now, heldBack{}
	return true, held
}

// attrs are the log fields that say what was held back, if anything.
func (h heldBack) attrs() []any {
	if h.lines == 0 {
		return nil
	}
	return []any{"held_back_lines", h.lines, "held_back_addrs", len(h.addrs)}
}

// parseLogLine splits memberlist's "[LEVEL] memberlist: text" into a slog
// level and the text.
func parseLogLine(line string) (slog.Level, string) {
	line = strings.TrimRight(line, "\r\n")
	level := slog.LevelInfo
	if tag, rest, ok := strings.Cut(line, "] "); ok && strings.HasPrefix(tag, "[") {
		switch tag[1:] {
		case "DEBUG":
			level = slog.LevelDebug
		case "WARN":
			level = slog.LevelWarn
		case "ERR", "ERROR":
			level = slog.LevelError
		}
		line = rest
	}
	return level, strings.TrimPrefix(line, "memberlist: ")
}

func isDecryptFailure(msg string) bool {
	lower := strings.ToLower(msg)
	for _, m := range decryptMarkers {
		if strings.Contains(lower, strings.ToLower(m)) {
			return true
		}
	}
	return false
}

// fromAddr extracts the host from memberlist's "from=host:port" suffix.
// The port is dropped: for a stream it is the remote's ephemeral port.
func fromAddr(msg string) string {
	_, after, ok := strings.Cut(msg, "from=")
	if !ok {
		return "an unknown address"
	}
	after, _, _ = strings.Cut(after, " ")
	if host, _, err := net.SplitHostPort(after); err == nil {
		return host
	}
	return after
}

func suspectName(msg string) (string, bool) {
	rest, ok := strings.CutPrefix(msg, suspectPrefix)
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, suspectSuffix)
}
