package mesh

import (
	"context"
	"log/slog"
	"strings"
	"sync"
)

// recorder is a slog.Handler that keeps every message, with its level and
// attributes, for assertions. Handlers made by With share the lines.
type recorder struct {
	// mu guards lines.
	mu    *sync.Mutex
	lines *[]string
}

func newRecorder() *recorder {
	return &recorder{mu: &sync.Mutex{}, lines: new([]string)}
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Level.String() + " " + rec.Message)
	rec.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	r.mu.Lock()
	*r.lines = append(*r.lines, b.String())
	r.mu.Unlock()
	return nil
}

func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

// contains reports whether any recorded line contains s.
func (r *recorder) contains(s string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range *r.lines {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

func (r *recorder) count(s string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, l := range *r.lines {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}
