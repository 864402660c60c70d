//go:build linux

package bench

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/weavego/weavego/e2e"
)

// benchRow is one measured figure on one path, with every repetition kept.
type benchRow struct {
	Section, Metric, Path, Unit string
	Vals                        []float64
}

func (r benchRow) stats() (med, lo, hi float64) {
	v := slices.Clone(r.Vals)
	slices.Sort(v)
	n := len(v)
	if n == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	med = v[n/2]
	if n%2 == 0 {
		med = (v[n/2-1] + v[n/2]) / 2
	}
	return med, v[0], v[n-1]
}

// benchReport collects the figures of one run and writes them out. It is safe for concurrent use.
type benchReport struct {
	start time.Time

	// mu guards rows, notes and findings.
	mu       sync.Mutex
	rows     []*benchRow
	notes    []string // how something was measured, or why it was not
	findings []string // the analysis of where weavego falls short
}

func newBenchReport() *benchReport { return &benchReport{start: time.Now()} }

// add records one repetition of metric on path.
func (r *benchReport) add(section, metric, path, unit string, v float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, row := range r.rows {
		if row.Section == section && row.Metric == metric && row.Path == path {
			row.Vals = append(row.Vals, v)
			return
		}
	}
	r.rows = append(r.rows, &benchRow{Section: section, Metric: metric, Path: path, Unit: unit, Vals: []float64{v}})
}

func (r *benchReport) note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

func (r *benchReport) finding(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.findings = append(r.findings, fmt.Sprintf(format, args...))
}

// rowsOf returns copies of the rows of one section, in the order they were first added.
func (r *benchReport) rowsOf(section string) []benchRow {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []benchRow
	for _, row := range r.rows {
		if row.Section == section {
			c := *row
			c.Vals = append([]float64(nil), row.Vals...)
			out = append(out, c)
		}
	}
	return out
}

// median returns the median of metric on path, if measured.
func (r *benchReport) median(metric, path string) (float64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, row := range r.rows {
		if row.Metric == metric && row.Path == path && len(row.Vals) > 0 {
			m, _, _ := row.stats()
			return m, true
		}
	}
	return 0, false
}

// benchGoal compares weavego with a reference measured in the same run.
type benchGoal struct {
	label            string
	metric, num, den string // median(metric, num) against median(metric, den)
	diff             bool   // compare num-den (absolute) instead of num/den
	limit            float64
	atLeast          bool // the goal is ratio >= limit (else <= limit)
	goal             string
}

func benchGoals() []benchGoal {
	const wg, hand, ovl = "weavego", "hand-vxlan", "docker-overlay"
	return []benchGoal{
		{"throughput 1 stream, weavego / hand VXLAN", "TCP 1 stream", wg, hand, false, 0.97, true, ">= 0.97"},
		{"throughput 4 streams, weavego / hand VXLAN", "TCP 4 streams", wg, hand, false, 0.97, true, ">= 0.97"},
		{"throughput 1 stream, weavego / Docker overlay", "TCP 1 stream", wg, ovl, false, 1.0, true, ">= 1.0"},
		{"throughput 4 streams, weavego / Docker overlay", "TCP 4 streams", wg, ovl, false, 1.0, true, ">= 1.0"},
		{"throughput 1 stream MTU 8950, weavego / hand VXLAN", "TCP 1 stream, underlay MTU 9000", wg, hand, false, 0.97, true, ">= 0.97"},
		{"ping RTT avg, weavego - hand VXLAN (µs)", "ping RTT avg", wg, hand, true, 10, false, "<= 10 µs"},
		{"throughput 1 stream, weavego -o direct / underlay", "TCP 1 stream", benchWeavegoDirect, benchUnderlay, false, 0.95, true, ">= 0.95"},
		{"ping RTT avg, weavego -o direct - underlay (µs)", "ping RTT avg", benchWeavegoDirect, benchUnderlay, true, 25, false, "<= 25 µs"},
		{"TCP req/resp p50, weavego - hand VXLAN (µs)", benchRRMetric, wg, hand, true, 10, false, "<= 10 µs"},
		{"ping RTT avg, weavego / Docker overlay", "ping RTT avg", wg, ovl, false, 1.0, false, "<= 1.0"},
		{"TCP req/resp p50, weavego / Docker overlay", benchRRMetric, wg, ovl, false, 1.0, false, "<= 1.0"},
		{"attach (docker run --rm true), weavego / bridge", "docker run --rm true", wg, "docker-bridge", false, 1.2, false, "<= 1.2"},
		{"attach on an --internal network (no docker_gwbridge), weavego / bridge", "docker run --rm true", "weavego-internal", "docker-bridge", false, 1.2, false, "<= 1.2"},
		{"attach (docker run --rm true), weavego / Docker overlay", "docker run --rm true", wg, ovl, false, 1.0, false, "<= 1.0"},
		{"DNS queries/s at saturation, name on this host, dnsd / Docker's embedded DNS", benchDNSQPS, benchDNSPath(benchDNSdnsd, benchDNSCases[0]), benchDNSPath(benchDNSDocker, benchDNSCases[0]), false, 1.0, true, ">= 1.0"},
		{"DNS queries/s at saturation, forwarded name, dnsd / Docker's embedded DNS", benchDNSQPS, benchDNSPath(benchDNSdnsd, benchDNSCases[2]), benchDNSPath(benchDNSDocker, benchDNSCases[2]), false, 1.0, true, ">= 1.0"},
		{"first ping from h3 after docker run on h1, weavego / Docker overlay", "docker run -d to first ping from h3", wg, ovl, false, 1.0, false, "<= 1.0"},
	}
}

// eval returns the goal's ratio (or difference) of medians and whether it is met; ok is false when either
// figure was not measured.
func (g benchGoal) eval(r *benchReport) (v float64, met, ok bool) {
	num, ok1 := r.median(g.metric, g.num)
	den, ok2 := r.median(g.metric, g.den)
	if !ok1 || !ok2 {
		return 0, false, false
	}
	v = num / den
	if g.diff {
		v = num - den
	}
	return v, benchMeets(v, g.limit, g.atLeast), true
}

// benchMeets reports whether v is on the right side of limit.
func benchMeets(v, limit float64, atLeast bool) bool {
	if atLeast {
		return v >= limit
	}
	return v <= limit
}

// table renders the figures as a Markdown table.
func (r *benchReport) table() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	b.WriteString("| section | metric | path | median | min | max | n | unit |\n|---|---|---|---:|---:|---:|---:|---|\n")
	for _, row := range r.rows {
		med, lo, hi := row.stats()
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %d | %s |\n", row.Section, row.Metric, row.Path,
			benchFmt(med), benchFmt(lo), benchFmt(hi), len(row.Vals), row.Unit)
	}
	return b.String()
}

// ratios renders the goals table.
func (r *benchReport) ratios() string {
	var b strings.Builder
	b.WriteString("| comparison | weavego | reference | ratio or difference | goal | met |\n|---|---:|---:|---:|---|---|\n")
	for _, g := range benchGoals() {
		num, ok1 := r.median(g.metric, g.num)
		den, ok2 := r.median(g.metric, g.den)
		v, met, ok := g.eval(r)
		if !ok {
			fmt.Fprintf(&b, "| %s | %s | %s | n/a | %s | not measured |\n", g.label, benchOpt(num, ok1), benchOpt(den, ok2), g.goal)
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", g.label, benchFmt(num), benchFmt(den), benchFmt(v), g.goal,
			map[bool]string{true: "yes", false: "**no**"}[met])
	}
	for _, g := range benchAbsoluteGoals() {
		if v, ok := r.median(g.metric, g.path); ok {
			met := benchMeets(v, g.limit, g.atLeast)
			fmt.Fprintf(&b, "| %s | %s | | | %s | %s |\n", g.label, benchFmt(v), g.goal, map[bool]string{true: "yes", false: "**no**"}[met])
		}
	}
	return b.String()
}

// benchAbsoluteGoal is a goal on one figure rather than on a ratio.
type benchAbsoluteGoal struct {
	label, metric, path string
	limit               float64
	atLeast             bool
	goal                string
}

func benchAbsoluteGoals() []benchAbsoluteGoal {
	return []benchAbsoluteGoal{
		{"endpoint visible on all hosts after docker run -d (s)", "endpoint in FDB of all other hosts", "weavego", 1, false, "<= 1 s"},
		{"DNS queries per second, dnsd on one core, 16 clients", "DNS A queries answered per second", "dnsd on one core, 16 client(s)", 60000, true, ">= 60000"},
		{"DNS query p99 (µs), dnsd on one core, 16 clients", "DNS query p99", "dnsd on one core, 16 client(s)", 1000, false, "<= 1000 µs"},
		{"DNS p99 (µs) at 2,000 queries/s, dnsd, name on this host", benchDNSP99, benchDNSPath(benchDNSdnsd, benchDNSCases[0]), 1000, false, "<= 1000 µs"},
		{"DNS p99 (µs) at 2,000 queries/s, dnsd, name on another host", benchDNSP99, benchDNSPath(benchDNSdnsd, benchDNSCases[1]), 1000, false, "<= 1000 µs"},
		{"DNS p99 (µs) at 2,000 queries/s, dnsd, forwarded name", benchDNSP99, benchDNSPath(benchDNSdnsd, benchDNSCases[2]), 1000, false, "<= 1000 µs"},
		{"new container reachable from every other host, 1,024 endpoints on the network (s)", "new container on h1 reachable from h2 and h3", "1024 endpoints", 1, false, "<= 1 s"},
		{"IPAM RequestAddress p99 (µs), owned free space, saved to disk", "IPAM RequestAddress p99", "ipalloc RequestReleaseAddress/fsync", 1000, false, "<= 1000 µs"},
		{"simulated, 1,000 hosts: new entry on all hosts, p99 (s)", "new entry on all hosts, p99", "1000 hosts × 1 endpoints", 2, false, "<= 2 s"},
		{"simulated, 1,000 hosts × 50 endpoints: new host holds the whole map (s)", "new host holds the whole map", "1000 hosts × 50 endpoints (extrapolated)", 10, false, "<= 10 s"},
		{"simulated, 1,000 hosts: heal after a 60 s partition in two halves (s)", "heal after a 60 s partition in two halves", "1000 hosts × 1 endpoints", 5, false, "<= 5 s"},
	}
}

func benchOpt(v float64, ok bool) string {
	if !ok {
		return "n/a"
	}
	return benchFmt(v)
}

func benchFmt(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return "n/a"
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

// markdown is the whole BENCHMARKS.md.
func (r *benchReport) markdown(env string) string {
	var b strings.Builder
	b.WriteString("# weavego benchmarks\n\n")
	b.WriteString("Written by `make bench` (e2e/bench). Do not edit by hand: the next run replaces this file.\n\n")
	b.WriteString(env + "\n")
	b.WriteString("Every figure is measured in the same run, with the contenders interleaved (each repetition measures\n" +
		"every path in turn). Median, minimum and maximum of n repetitions.\n\n")
	b.WriteString("Paths: **underlay** = host to host on the underlay bridge (the wire); **hand-vxlan** = a VXLAN device,\n" +
		"bridge and veths built by the benchmark with `ip` in a namespace of their own on each host (the VXLAN device created\n" +
		"in the host's namespace and moved in, as weavego does), static FDB and neighbour entries, the MTU weavego uses (the\n" +
		"kernel datapath's limit); **docker-overlay** = Docker's overlay driver in swarm mode;\n" +
		"**weavego** = the plugin; **weavego-direct** = the plugin on a `-o direct` network (no VXLAN between the hosts); **docker-bridge** = Docker's default local bridge driver (attach only).\n\n")
	b.WriteString("## Goals\n\n" + r.ratios() + "\n")
	b.WriteString("## Encrypted networks\n\nNot measured by `make bench` yet: see docs/encryption.md, whose figures come " +
		"from `WEAVEGO_ENC_BENCH=1 go test -run '^TestEncrypted$' ./e2e/` (subtest Throughput).\n\n")
	b.WriteString("## All figures\n\n" + r.table() + "\n")
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.findings) > 0 {
		b.WriteString("## Analysis\n\n")
		for _, f := range r.findings {
			b.WriteString("- " + f + "\n")
		}
		b.WriteString("\n")
	}
	if len(r.notes) > 0 {
		b.WriteString("## How it was measured\n\n")
		for _, n := range r.notes {
			b.WriteString("- " + n + "\n")
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "Total run time: %s.\n", time.Since(r.start).Round(time.Second))
	return b.String()
}

// benchEnv describes the machine: date, kernel, CPUs and memory.
func benchEnv() string {
	kernel, _ := e2e.Run(10*time.Second, "uname", "-r")
	cpus, _ := e2e.Run(10*time.Second, "nproc")
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		mem = strings.TrimSpace(strings.TrimPrefix(strings.SplitN(string(b), "\n", 2)[0], "MemTotal:"))
	}
	dockerd, _ := e2e.Run(10*time.Second, "dockerd", "--version")
	return fmt.Sprintf("- date: %s\n- kernel: %s\n- machine: %s CPUs (%s), %s memory\n- engine: %s\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), strings.TrimSpace(kernel), strings.TrimSpace(cpus), model, mem,
		strings.TrimSpace(dockerd))
}
