//go:build linux

package bench

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weavego/weavego/e2e"
)

const (
	benchIperfPort = "5201"
	benchRRPort    = "7777"
	benchRRCount   = 5000
	benchIperfSecs = "3"
	// benchLatencyCPU is the CPU that both ends of the latency measurements are pinned to: on the same CPU, a
	// round trip never waits for an idle virtual CPU to wake up, which otherwise makes the figures bimodal.
	benchLatencyCPU = "1"
	// benchRRMetric is the TCP request/response loop's median.
	benchRRMetric = "TCP 1-byte req/resp p50"
)

// benchIperfServer is the iperf3 server command for namespace ns, pinned to CPU 1 (clients run on CPU 0).
func benchIperfServer(ns string) []string {
	return []string{"taskset", "-c", "1", "nsenter", "--net=" + ns, "--", "iperf3", "-s", "-p", benchIperfPort}
}

// benchServe starts a server command in namespace ns for the rest of the run.
func (b *bench) benchServe(t testing.TB, name string, args ...string) {
	t.Helper()
	d, err := e2e.StartServer(name, filepath.Join(b.c.Dir(), "bench-"+name+".log"), args...)
	if err != nil {
		t.Fatalf("bench: %v", err)
	}
	b.t.Cleanup(func() { _ = d.Stop(5 * time.Second) })
}

// startServers starts iperf3 and the request/response server in the server namespace of every path.
func (b *bench) startServers(t *testing.T) {
	for _, p := range b.ordered() {
		b.benchServe(t, "iperf3-"+p.name, benchIperfServer(p.server)...)
		b.benchServe(t, "rr-"+p.name, benchToolCmd(benchLatencyCPU+"@"+p.server, "rrserver", benchRRPort)...)
	}
	for _, p := range b.ordered() {
		if err := e2e.Poll(20*time.Second, func() error {
			var rr benchRRResult
			return benchToolResult(10*time.Second, &rr, p.clientNS, "rrclient", p.serverIP+":"+benchRRPort, "1")
		}); err != nil {
			t.Errorf("bench: %s: servers not reachable: %v", p.name, err)
		}
	}
}

// iperf runs one iperf3 test over p and returns the received throughput in Gbit/s.
func benchIperf(p *benchPath, streams int) (float64, error) {
	var out string
	err := e2e.Poll(15*time.Second, func() error { // the server takes one test at a time and may still be closing the last
		var err error
		out, err = e2e.Run(time.Minute, "taskset", "-c", "0", "nsenter", "--net="+p.clientNS, "--", "iperf3", "-c", p.serverIP, "-p", benchIperfPort,
			"-t", benchIperfSecs, "-O", "1", "-P", strconv.Itoa(streams), "-J")
		return err
	})
	if err != nil {
		return 0, err
	}
	var res struct {
		End struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		return 0, fmt.Errorf("iperf3 output: %w", err)
	}
	if res.Error != "" {
		return 0, fmt.Errorf("iperf3: %s", res.Error)
	}
	return res.End.SumReceived.BitsPerSecond / 1e9, nil
}

// measureThroughput runs, reps times, 1-stream then 4-stream TCP over every path in turn, and then over the
// noNAT paths with Docker's NAT rules taken out of weavego's containers (see withoutDockerNAT).
func (b *bench) measureThroughput(t *testing.T, reps int, metricSuffix string, paths, noNAT []*benchPath) {
	for rep := 0; rep < reps; rep++ {
		for _, p := range paths {
			b.throughputOnce(t, rep, metricSuffix, p)
		}
		if len(noNAT) > 0 {
			b.withoutDockerNAT(t, func() {
				for _, p := range noNAT {
					b.throughputOnce(t, rep, metricSuffix, p)
				}
			})
		}
	}
}

// throughputOnce measures 1-stream then 4-stream TCP over p once.
func (b *bench) throughputOnce(t *testing.T, rep int, metricSuffix string, p *benchPath) {
	for _, streams := range []int{1, 4} {
		metric := "TCP 1 stream"
		if streams > 1 {
			metric = fmt.Sprintf("TCP %d streams", streams)
		}
		v, err := benchIperf(p, streams)
		if err != nil {
			t.Errorf("bench: %s %s: %v", p.name, metric, err)
			continue
		}
		b.rep.add("throughput", metric+metricSuffix, p.name, "Gbit/s", v)
		t.Logf("rep %d %s %s%s: %.2f Gbit/s", rep+1, p.name, metric, metricSuffix, v)
	}
}

// benchPingCount pings, benchPingInterval apart, make one repetition: 100 replies, where 20 left one slow
// reply able to move a path's average by 10 µs on this shared machine.
const (
	benchPingCount    = 100
	benchPingInterval = "0.02"
)

// benchPing runs busybox ping over p and returns the average and median RTT in µs.
func benchPing(p *benchPath) (avg, p50 float64, err error) {
	out, err := e2e.Run(time.Minute, "taskset", "-c", benchLatencyCPU, "nsenter", "--net="+p.clientNS, "--", "busybox", "ping",
		"-c", strconv.Itoa(benchPingCount), "-i", benchPingInterval, p.serverIP)
	if err != nil {
		return 0, 0, err
	}
	var rtts []float64
	for _, line := range strings.Split(out, "\n") {
		_, rest, ok := strings.Cut(line, "time=")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " ms"), 64)
		if err == nil {
			rtts = append(rtts, v*1000)
		}
	}
	if len(rtts) < benchPingCount*9/10 {
		return 0, 0, fmt.Errorf("ping %s: only %d replies", p.serverIP, len(rtts))
	}
	sum := 0.0
	for _, v := range rtts {
		sum += v
	}
	slices.Sort(rtts)
	return sum / float64(len(rtts)), rtts[len(rtts)/2], nil
}

// measureLatency runs, reps times, ping and the TCP request/response loop over every path in turn, and
// then over weavego's containers with Docker's NAT rules taken out of them (see endsPaths).
func (b *bench) measureLatency(t *testing.T, reps int) {
	paths, noNAT := b.endsPaths()
	for rep := 0; rep < reps; rep++ {
		for _, p := range paths {
			b.latencyOnce(t, rep, p)
		}
		if len(noNAT) > 0 {
			b.withoutDockerNAT(t, func() {
				for _, p := range noNAT {
					b.latencyOnce(t, rep, p)
				}
			})
		}
	}
	b.rep.note("Throughput: iperf3 %s s per run after 1 s omitted (`-O 1`), 1 and 4 parallel streams, client pinned to CPU 0 and server to CPU 1 (`taskset`), in the namespaces under test; figure = received bits per second.", benchIperfSecs)
	b.rep.note("Latency: `busybox ping -c %d -i %s` (RTT average and median of the replies); a TCP loop of %d sequential 1-byte request/response round trips on one connection after 200 unmeasured ones (p50, p99). Client and server are the test binary in a tool mode, run with `nsenter --net` in the container's namespace, the same binary on every path. Both ends of ping and of the loop are pinned to CPU %s.", benchPingCount, benchPingInterval, benchRRCount, benchLatencyCPU)
}

// latencyOnce measures ping and the TCP request/response loop over p once.
func (b *bench) latencyOnce(t *testing.T, rep int, p *benchPath) {
	if avg, p50, err := benchPing(p); err != nil {
		t.Errorf("bench: %s ping: %v", p.name, err)
	} else {
		b.rep.add("latency", "ping RTT avg", p.name, "µs", avg)
		b.rep.add("latency", "ping RTT p50", p.name, "µs", p50)
	}
	var rr benchRRResult
	if err := benchToolResult(2*time.Minute, &rr, benchLatencyCPU+"@"+p.clientNS, "rrclient", p.serverIP+":"+benchRRPort, strconv.Itoa(benchRRCount)); err != nil {
		t.Errorf("bench: %s request/response: %v", p.name, err)
		return
	}
	b.rep.add("latency", benchRRMetric, p.name, "µs", rr.P50)
	b.rep.add("latency", "TCP 1-byte req/resp p99", p.name, "µs", rr.P99)
	t.Logf("rep %d %s: rr p50 %.1f µs p99 %.1f µs", rep+1, p.name, rr.P50, rr.P99)
}
