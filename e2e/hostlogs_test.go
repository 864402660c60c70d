//go:build linux

package e2e

import (
	"fmt"
	"slices"
	"testing"
)

func pluginLine(level, msg string) string {
	return fmt.Sprintf(`time="2026-12-07T08:35:25Z" level=error msg="time=2026-12-07T08:35:25.670Z level=%s msg=\"%s\"" plugin=7db3`,
		level, msg)
}

func TestCrashLines(t *testing.T) {
	panicked := `time="2026-12-07T08:35:25Z" level=error msg="panic: runtime error: invalid memory address" plugin=7db3`
	fatal := `time="2026-12-07T08:35:25Z" level=error msg="fatal error: concurrent map writes" plugin=7db3`
	recovered := pluginLine("ERROR", "driver panic")
	quiet := []string{pluginLine("INFO", "weavego ready"), pluginLine("DEBUG", "entry applied"),
		pluginLine("WARN", "refused a state file that says panic: in its name")}
	for _, c := range []struct {
		name  string
		lines []string
		want  []string
	}{
		{"none", quiet, nil},
		{"runtime panic", append(slices.Clone(quiet), panicked), []string{panicked}},
		{"fatal error", append([]string{fatal}, quiet...), []string{fatal}},
		{"recovered in a handler", append(slices.Clone(quiet), recovered), []string{recovered}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := crashLines(c.lines); !slices.Equal(got, c.want) {
				t.Errorf("crashLines = %q, want %q", got, c.want)
			}
		})
	}
}

func TestLogSummary(t *testing.T) {
	var lines []string
	for i := range 100 {
		level := "DEBUG"
		if i == 10 || i == 20 || i == 95 {
			level = "WARN"
		}
		lines = append(lines, pluginLine(level, fmt.Sprint("line ", i)))
	}
	got := logSummary(lines, 10)
	// The last 5 lines, then the warnings from the newest back, while room is left: 10, 20 and 95 (already in).
	want := []string{lines[10], lines[20], lines[95], lines[96], lines[97], lines[98], lines[99]}
	if !slices.Equal(got, want) {
		t.Errorf("logSummary kept %d lines:\n%q\nwant\n%q", len(got), got, want)
	}
	if got := logSummary(lines[:3], 10); !slices.Equal(got, lines[:3]) {
		t.Errorf("logSummary of 3 lines = %q, want all of them", got)
	}
}
