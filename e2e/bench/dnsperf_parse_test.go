//go:build linux

package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestParseDNSPerf(t *testing.T) {
	summary := func(completed, lost int, codes string) string {
		return "Statistics:\n\n  Queries sent:         100\n  Queries completed:    " + strconv.Itoa(completed) + " (100.00%)\n" +
			"  Queries lost:         " + strconv.Itoa(lost) + " (0.00%)\n\n  Response codes:       " + codes + "\n" +
			"  Queries per second:   33.3\n"
	}
	lines := func(n int, code string) string {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			fmt.Fprintf(&b, "> %s web.weavego.local A 0.000%03d\n", code, i) // i µs
		}
		return b.String()
	}
	cases := []struct {
		name           string
		out            string
		wantErr        bool
		p50, p99       float64
		failed         int
		wantQPSNonzero bool
	}{
		{"summary only", summary(100, 0, "NOERROR 100 (100.00%)"), false, 0, 0, 0, true},
		{"per-query latencies", lines(100, "NOERROR") + summary(100, 0, "NOERROR 100 (100.00%)"), false, 50, 99, 0, true},
		{"one failure in 100 is tolerated", summary(100, 1, "NOERROR 99 (99.00%)"), false, 0, 0, 1, true},
		{"more fail the run", summary(100, 1, "NOERROR 98 (98.00%), SERVFAIL 1 (1.00%)"), true, 0, 0, 2, true},
		{"nothing completed", summary(0, 100, ""), true, 0, 0, 100, true},
		{"no summary", lines(10, "NOERROR"), true, 0, 0, 0, false},
	}
	for _, c := range cases {
		path := filepath.Join(t.TempDir(), "out")
		if err := os.WriteFile(path, []byte(c.out), 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := parseDNSPerf(path)
		if (err != nil) != c.wantErr || r.p50 != c.p50 || r.p99 != c.p99 || r.failed != c.failed || (r.qps > 0) != c.wantQPSNonzero {
			t.Errorf("%s: %+v, %v; want p50 %v p99 %v failed %d, error %v", c.name, r, err, c.p50, c.p99, c.failed, c.wantErr)
		}
	}
}
