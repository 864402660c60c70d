package mesh

import (
	"fmt"
	"log"
	"log/slog"
	"testing"
)

func TestParseLogLine(t *testing.T) {
	tests := []struct {
		line      string
		wantLevel slog.Level
		wantMsg   string
	}{
		{"[DEBUG] memberlist: Stream connection from=1.2.3.4:5\n", slog.LevelDebug, "Stream connection from=1.2.3.4:5"},
		{"[INFO] memberlist: Marking b as failed\n", slog.LevelInfo, "Marking b as failed"},
		{"[WARN] memberlist: Refuting a suspect message\n", slog.LevelWarn, "Refuting a suspect message"},
		{"[ERR] memberlist: Push/Pull with b failed: EOF\n", slog.LevelError, "Push/Pull with b failed: EOF"},
		{"[ERROR] memberlist: Failed to compress payload\n", slog.LevelError, "Failed to compress payload"},
		{"no level at all\n", slog.LevelInfo, "no level at all"},
	}
	for _, tt := range tests {
		level, msg := parseLogLine(tt.line)
		if level != tt.wantLevel || msg != tt.wantMsg {
			t.Errorf("parseLogLine(%q) = %v %q, want %v %q", tt.line, level, msg, tt.wantLevel, tt.wantMsg)
		}
	}
}

func TestLogBridgeDecryptFailure(t *testing.T) {
	tests := []struct {
		line     string
		wantAddr string
	}{
		{"[ERR] memberlist: Decrypt packet failed: no installed keys could decrypt the message from=10.0.0.3:6783", "10.0.0.3"},
		{"[ERR] memberlist: failed to receive: No installed keys could decrypt the message from=10.0.0.4:41234", "10.0.0.4"},
		{"[ERR] memberlist: failed to receive: encryption is configured but remote state is not encrypted from=[fe80::1]:6783", "fe80::1"},
		{"[ERR] memberlist: failed to receive: remote state is encrypted and encryption is not configured from=10.0.0.6:1", "10.0.0.6"},
	}
	for _, tt := range tests {
		rec := newRecorder()
		logger := log.New(newLogBridge(slog.New(rec), nil), "", 0)
		logger.Print(tt.line)
		logger.Print(tt.line) // repeated at once: logged once
		want := fmt.Sprintf("gossip from %s could not be decrypted: %s", tt.wantAddr, passwordHint)
		if n := rec.count(want); n != 1 {
			t.Errorf("line %q: %d records containing %q, want 1; got %q", tt.line, n, want, *rec.lines)
		}
	}
}

func TestLogBridgeSuspect(t *testing.T) {
	var got []string
	rec := newRecorder()
	logger := log.New(newLogBridge(slog.New(rec), func(n string) { got = append(got, n) }), "", 0)
	logger.Print("[INFO] memberlist: Suspect host b has failed, no acks received")
	logger.Print("[INFO] memberlist: Marking c as failed, suspect timeout reached (0 peer confirmations)")
	if len(got) != 1 || got[0] != "host b" {
		t.Errorf("suspects = %q, want [host b]", got)
	}
	if !rec.contains("INFO Suspect host b has failed") {
		t.Errorf("memberlist line not passed on: %q", *rec.lines)
	}
}
