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
// probes to onSuspect.
type logBridge struct {
	log       *slog.Logger
	onSuspect func(name string)

	// mu guards lastDecrypt (address -> when we last logged it).
	mu          sync.Mutex
	lastDecrypt map[string]time.Time
}

func newLogBridge(log *slog.Logger, onSuspect func(string)) *logBridge {
	return &logBridge{log: log, onSuspect: onSuspect, lastDecrypt: make(map[string]time.Time)}
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
	addr := fromAddr(msg)
	b.mu.Lock()
	last, seen := b.lastDecrypt[addr]
	quiet := seen && now.Sub(last) < decryptRepeat
	if !quiet {
		if len(b.lastDecrypt) > 1024 {
			clear(b.lastDecrypt)
		}
		b.lastDecrypt[addr] = now
	}
	b.mu.Unlock()
	if quiet {
		return
	}
	b.log.Error("gossip from "+addr+" could not be decrypted: "+passwordHint,
		"peer_addr", addr, "detail", msg)
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
