//go:build linux

package bench

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weavego/weavego/e2e"
)

// The benchmark's own network tools are this test binary run again in a tool mode, as a child process inside
// the namespace under test (nsenter --net): the same binary on every path, nothing to build or put in an
// image, and a child that lives in a named namespace of the run is found by the harness sweep.
const (
	benchToolEnv     = "WEAVEGO_BENCH_TOOL"
	benchToolArgsEnv = "WEAVEGO_BENCH_TOOL_ARGS"
	// benchResultPrefix starts the one line of JSON a tool prints as its result.
	benchResultPrefix = "BENCHRESULT "
)

// TestBenchTool is not a test: it is the entry point of the tool modes, and skips unless started by TestBench.
func TestBenchTool(t *testing.T) {
	mode := os.Getenv(benchToolEnv)
	if mode == "" {
		t.Skip("bench tool: run only as a child of TestBench")
	}
	args := strings.Fields(os.Getenv(benchToolArgsEnv))
	var res any
	var err error
	switch mode {
	case "rrserver":
		err = benchRRServer(args)
	case "rrclient":
		res, err = benchRRClient(args)
	case "probe":
		res, err = benchProbe(args)
	case "mesh":
		res, err = benchMeshSim(args)
	case "dnsserve":
		err = benchDNSServe(args)
	case "dnsstub":
		err = benchDNSStub(args)
	case "fakepeer":
		err = benchFakePeer(args)
	case "dnsload":
		res, err = benchDNSLoad(args)
	default:
		err = fmt.Errorf("unknown tool mode %q", mode)
	}
	if err != nil {
		t.Fatalf("bench tool %s: %v", mode, err)
	}
	if res != nil {
		b, _ := json.Marshal(res)
		fmt.Printf("%s%s\n", benchResultPrefix, b)
	}
}

// benchToolCmd is the command line that runs tool mode in the network namespace ns (a path).
// ns may be prefixed with "CPU@" to pin the tool to that CPU.
func benchToolCmd(ns, mode string, args ...string) []string {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	if cpu, rest, ok := strings.Cut(ns, "@"); ok {
		return append([]string{"taskset", "-c", cpu}, benchToolCmd(rest, mode, args...)...)
	}
	return []string{"nsenter", "--net=" + ns, "--", "env", "WEAVEGO_E2E=0", benchToolEnv + "=" + mode,
		benchToolArgsEnv + "=" + strings.Join(args, " "),
		exe, "-test.run=^TestBenchTool$", "-test.count=1", "-test.timeout=0"}
}

// benchToolResult runs a tool to completion and decodes its result line into out.
func benchToolResult(timeout time.Duration, out any, ns, mode string, args ...string) error {
	stdout, err := e2e.Run(timeout, benchToolCmd(ns, mode, args...)...)
	if err != nil {
		return err
	}
	return benchDecodeResult(stdout, out)
}

func benchDecodeResult(stdout string, out any) error {
	for _, line := range strings.Split(stdout, "\n") {
		if rest, ok := strings.CutPrefix(line, benchResultPrefix); ok {
			return json.Unmarshal([]byte(rest), out)
		}
	}
	return fmt.Errorf("no result line in tool output: %q", e2e.LastLines(stdout, 5))
}

// benchRRServer answers every byte it reads on TCP port args[0] with one byte, on any number of connections.
func benchRRServer(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: rrserver PORT")
	}
	l, err := net.Listen("tcp", ":"+args[0])
	if err != nil {
		return err
	}
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			buf := make([]byte, 1)
			for {
				if _, err := io.ReadFull(c, buf); err != nil {
					return
				}
				if _, err := c.Write(buf); err != nil {
					return
				}
			}
		}()
	}
}

// benchRRResult is what rrclient reports, in microseconds.
type benchRRResult struct {
	N             int
	P50, P99, Avg float64
}

// benchRRClient makes args[1] sequential 1-byte request/response round trips to args[0] (ip:port) over one
// TCP connection, after 200 unmeasured ones.
func benchRRClient(args []string) (*benchRRResult, error) {
	if len(args) != 2 {
		return nil, errors.New("usage: rrclient IP:PORT N")
	}
	n, err := strconv.Atoi(args[1])
	if err != nil || n < 1 {
		return nil, fmt.Errorf("bad count %q", args[1])
	}
	c, err := net.DialTimeout("tcp", args[0], 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Minute))
	buf := []byte{'x'}
	lat := make([]time.Duration, 0, n)
	var sum time.Duration
	for i := -200; i < n; i++ {
		t0 := time.Now()
		if _, err := c.Write(buf); err != nil {
			return nil, err
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			return nil, err
		}
		if i >= 0 {
			d := time.Since(t0)
			lat = append(lat, d)
			sum += d
		}
	}
	slices.Sort(lat)
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	return &benchRRResult{N: n, P50: us(lat[n/2]), P99: us(lat[(n*99)/100]), Avg: us(sum / time.Duration(n))}, nil
}

// benchProbeResult is the wall-clock time (Unix nanoseconds) of the first echo reply.
type benchProbeResult struct {
	FirstReply int64
	Sent       int
}

// benchProbe sends an ICMP echo request to args[0] every 10 ms until one is answered or args[1] seconds pass.
// It first lowers the ARP retransmission time of eth0 in its namespace to 100 ms, so that the first answered
// probe follows the moment the address becomes reachable by about 0.1 s, not by the default 1 s.
func benchProbe(args []string) (*benchProbeResult, error) {
	if len(args) != 2 {
		return nil, errors.New("usage: probe IP SECONDS")
	}
	dst := net.ParseIP(args[0]).To4()
	secs, err := strconv.Atoi(args[1])
	if dst == nil || err != nil {
		return nil, fmt.Errorf("bad arguments %v", args)
	}
	_ = os.WriteFile("/proc/sys/net/ipv4/neigh/eth0/retrans_time_ms", []byte("100"), 0o644)
	conn, err := net.ListenPacket("ip4:icmp", "0.0.0.0")
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	id := uint16(os.Getpid())
	got := make(chan int64, 1)
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			ip, _ := from.(*net.IPAddr)
			if n >= 8 && buf[0] == 0 && ip != nil && ip.IP.Equal(dst) && binary.BigEndian.Uint16(buf[4:]) == id {
				got <- time.Now().UnixNano()
				return
			}
		}
	}()
	deadline := time.After(time.Duration(secs) * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for seq := 0; ; seq++ {
		_, _ = conn.WriteTo(benchEchoRequest(id, uint16(seq)), &net.IPAddr{IP: dst})
		select {
		case ts := <-got:
			return &benchProbeResult{FirstReply: ts, Sent: seq + 1}, nil
		case <-deadline:
			return nil, fmt.Errorf("no echo reply from %s in %ds (%d sent)", dst, secs, seq+1)
		case <-tick.C:
		}
	}
}

// benchEchoRequest builds an ICMP echo request with the Internet checksum.
func benchEchoRequest(id, seq uint16) []byte {
	b := make([]byte, 16)
	b[0] = 8 // echo request
	binary.BigEndian.PutUint16(b[4:], id)
	binary.BigEndian.PutUint16(b[6:], seq)
	var sum uint32
	for i := 0; i < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	binary.BigEndian.PutUint16(b[2:], ^uint16(sum))
	return b
}
