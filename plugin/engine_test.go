package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weavego/weavego/internal/dockerapi"
)

// fakeEngine answers errs in turn, then e.
type fakeEngine struct {
	mu   sync.Mutex
	errs []error
	e    dockerapi.Engine
}

func (f *fakeEngine) Engine(context.Context) (dockerapi.Engine, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		return dockerapi.Engine{}, err
	}
	return f.e, nil
}

// logLines records what the watch logs.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) Info(msg string, args ...any) { l.add("INFO " + msg) }
func (l *logLines) Warn(msg string, args ...any) { l.add("WARN " + msg) }
func (l *logLines) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
}
func (l *logLines) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func TestEngineWatch(t *testing.T) {
	tests := []struct {
		name, forward, wantFwd string
		wantWarn               bool
	}{
		{"forwarding on", "1\n", "on", false},
		{"forwarding off", "0\n", "off", true},
		{"forwarding unreadable", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ip_forward")
			if tt.forward != "" {
				if err := os.WriteFile(path, []byte(tt.forward), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			fe := &fakeEngine{errs: []error{errors.New("daemon not answering yet")},
				e: dockerapi.Engine{Version: "29.8.1", FirewallBackend: "nftables"}}
			w := &engineWatch{docker: fe, forwardPath: path}
			if st := w.Status(); st.Version != "" || st.IPForward != tt.wantFwd {
				t.Fatalf("before any answer: %+v", st)
			}
			var log logLines
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { w.Run(ctx, &log, time.Millisecond, time.Hour); close(done) }()
			deadline := time.Now().Add(5 * time.Second)
			for w.Status().Version == "" && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			cancel()
			<-done
			st := w.Status()
			if st.Version != "29.8.1" || st.FirewallBackend != "nftables" || st.IPForward != tt.wantFwd {
				t.Fatalf("status %+v, want 29.8.1, nftables, forwarding %q", st, tt.wantFwd)
			}
			out := log.text()
			if strings.Count(out, "INFO docker engine") != 1 {
				t.Errorf("the engine is logged %d times, want once:\n%s", strings.Count(out, "INFO docker engine"), out)
			}
			if got := strings.Contains(out, "WARN IPv4 forwarding is off"); got != tt.wantWarn {
				t.Errorf("warning about forwarding: %v, want %v:\n%s", got, tt.wantWarn, out)
			}
		})
	}
}

func TestEngineWatchWithoutDockerAPI(t *testing.T) {
	w := &engineWatch{forwardPath: filepath.Join(t.TempDir(), "none")}
	w.Run(context.Background(), &logLines{}, time.Millisecond, time.Millisecond)
	if st := w.Status(); !strings.Contains(st.Err, "DOCKER_API") || !strings.Contains(st.Sentence(), "not read") {
		t.Errorf("status %+v (%s), want it to say the Docker API is disabled", st, st.Sentence())
	}
}
