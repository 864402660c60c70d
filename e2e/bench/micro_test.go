//go:build linux

package bench

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weavego/weavego/dnsd"
	"github.com/weavego/weavego/e2e"
	"github.com/weavego/weavego/e2e/dnsload"
)

// benchDNSResult is a series of Loads of dnsd: answered queries per second and their p99 latency in µs.
type benchDNSResult struct {
	Workers []int
	QPS     []float64
	P99us   []float64
}

// benchDNSPort is where the benchmark's dnsd listens, on 127.0.0.1 of a namespace of the run.
const benchDNSPort = "5300"

// benchDNSServe runs dnsd with a table of 10,001 names on 127.0.0.1:args[0] on one core (GOMAXPROCS=1) until
// it is killed.
func benchDNSServe(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: dnsserve PORT")
	}
	port, err := strconv.Atoi(args[0])
	if err != nil {
		return err
	}
	runtime.GOMAXPROCS(1)
	var rs []dnsd.Record
	for i := range 10000 {
		rs = append(rs, dnsd.Record{Name: fmt.Sprintf("c%d", i), IP: netip.AddrFrom4([4]byte{10, 32, byte(i >> 8), byte(i)}), Network: "n", VNI: 1})
	}
	rs = append(rs, dnsd.Record{Name: "web", IP: netip.AddrFrom4([4]byte{10, 33, 0, 1}), Network: "n", VNI: 1})
	tab := dnsd.NewTable()
	// The load comes from 127.0.0.1: make it a container on network n.
	if err := tab.Replace(rs, []dnsd.Member{{Owner: "load", VNI: 1, IP: netip.MustParseAddr("127.0.0.1")}}); err != nil {
		return err
	}
	srv, err := dnsd.New(dnsd.Config{Port: port, Upstreams: []string{"127.0.0.1:9"}, AnswerRate: benchDNSAnswerRate}, tab, nil)
	if err != nil {
		return err
	}
	defer srv.Close()
	lo := []dnsd.Served{{Network: "n", VNI: 1, Subnet: netip.MustParsePrefix("127.0.0.0/8"), Gateway: netip.MustParseAddr("127.0.0.1")}}
	if err := srv.SetNetworks(lo); err != nil {
		return err
	}
	select {}
}

// benchDNSLoad loads the dnsd at args[0] with dnsload.Run: args[1] queries per run, for each worker count in
// args[2:], three runs each, interleaved.
func benchDNSLoad(args []string) (*benchDNSResult, error) {
	if len(args) < 3 {
		return nil, errors.New("usage: dnsload ADDR QUERIES WORKERS...")
	}
	n, _ := strconv.Atoi(args[1])
	res := &benchDNSResult{}
	for rep := 0; rep < 3; rep++ {
		for _, a := range args[2:] {
			w, _ := strconv.Atoi(a)
			qps, p99, err := dnsload.Run(context.Background(), args[0], "web."+dnsd.DefaultDomain, w, n)
			if err != nil {
				return nil, err
			}
			res.Workers = append(res.Workers, w)
			res.QPS = append(res.QPS, qps)
			res.P99us = append(res.P99us, float64(p99)/float64(time.Microsecond))
		}
	}
	return res, nil
}

// measureDNS runs dnsd pinned to CPU 1 and the load pinned to CPU 0, in a namespace of the run.
func (b *bench) measureDNS(t *testing.T) {
	ns := b.nsName("dns")
	benchMust(t, "ip", "netns", "add", ns)
	defer func() { _, _ = e2e.Run(30*time.Second, "ip", "netns", "delete", ns) }()
	benchMust(t, "ip", "-n", ns, "link", "set", "lo", "up")
	nsPath := filepath.Join(e2e.NetnsDir, ns)
	d, err := e2e.StartServer("dnsd", filepath.Join(b.c.Dir(), "bench-dnsd.log"), benchToolCmd("1@"+nsPath, "dnsserve", benchDNSPort)...)
	if err != nil {
		t.Fatalf("bench: %v", err)
	}
	defer func() { _ = d.Stop(5 * time.Second) }()
	addr := "127.0.0.1:" + benchDNSPort
	var res benchDNSResult
	if err := e2e.Poll(20*time.Second, func() error {
		return benchToolResult(time.Minute, &res, "0@"+nsPath, "dnsload", addr, "10", "1")
	}); err != nil {
		t.Fatalf("bench: dnsd did not answer: %v", err)
	}
	if err := benchToolResult(5*time.Minute, &res, "0@"+nsPath, "dnsload", addr, "50000", "1", "4", "16"); err != nil {
		t.Errorf("bench: dns load: %v", err)
		return
	}
	for i, w := range res.Workers {
		path := fmt.Sprintf("dnsd on one core, %d client(s)", w)
		b.rep.add("IPAM and DNS", "DNS A queries answered per second", path, "q/s", res.QPS[i])
		b.rep.add("IPAM and DNS", "DNS query p99", path, "µs", res.P99us[i])
	}
	b.rep.note("DNS: dnsd (the real server, 10,001 names) in a process of its own with GOMAXPROCS=1 pinned to CPU 1, on 127.0.0.1 in a namespace of its own; the load (e2e/dnsload: 50,000 UDP A queries for a local name per run from 1, 4 and 16 sequential clients, 3 runs each, interleaved) pinned to CPU 0.")
}

// measureGoBench runs the Go benchmarks of ipalloc and dnsd (no network) and records their custom metrics.
func (b *bench) measureGoBench(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go"
	}
	cmd := exec.Command(goBin, "test", "-run", "^$", "-bench", ".", "-benchtime", "1s", "-count", "3", "./ipalloc/", "./dnsd/")
	cmd.Dir = e2e.RepoRoot()
	cmd.Env = e2e.CleanEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("bench: go test -bench: %v\n%s", err, e2e.LastLines(string(out), 20))
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			name = name[:i] // GOMAXPROCS suffix
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch unit := f[i+1]; unit {
			case "allocs/s":
				b.rep.add("IPAM and DNS", "IPAM address allocations per second", "ipalloc "+name, "1/s", v)
			case "p99-µs":
				b.rep.add("IPAM and DNS", "IPAM RequestAddress p99", "ipalloc "+name, "µs", v)
			case "fsync-p99-µs":
				b.rep.add("IPAM and DNS", "one fsync (4 KiB write and fdatasync) p99, timed between the requests", "ipalloc "+name, "µs", v)
			case "commit-p99-µs":
				b.rep.add("IPAM and DNS", "least bbolt commit (one small key) p99, timed between the requests", "ipalloc "+name, "µs", v)
			case "src-ports/1000q":
				b.rep.add("IPAM and DNS", "DNS forwards: source ports the upstream saw per 1,000 queries", "dnsd "+name, "ports", v)
			case "ns/op":
				if strings.HasPrefix(name, "ServeLocalName") {
					b.rep.add("IPAM and DNS", "DNS handler answers per second (no socket)", "dnsd "+name, "1/s", 1e9/v)
				} else if strings.HasPrefix(name, "Replace") {
					b.rep.add("IPAM and DNS", "DNS table rebuild, 10,000 names", "dnsd "+name, "ms", v/1e6)
				}
			}
		}
	}
	b.rep.note("IPAM: ipalloc's BenchmarkRequestReleaseAddress (a lease and its release with 1,000 other leases live; 'fsync' waits for bbolt's commit to reach the disk, 'nosync' does not) and BenchmarkRequestAddressConcurrent (the same, 16 requests at once), `go test -bench . -benchtime 1s -count 3 ./ipalloc/ ./dnsd/`; between the requests (alone, not during them) each times one fsync of a 4 KiB write and the least bbolt commit (one small key, two fdatasyncs) in the same directory, the references of its goals; dnsd's handler benchmark answers without sockets.")
}

// measureIPAMSim runs ipalloc's randomized cluster simulation in its long form (8 seeds of 2,000 steps on 5
// hosts and joiners: allocations, releases, partitions, heals, kill -9 restarts, message loss, rmpeer) and
// records its wall time; a duplicate address fails the step.
func (b *bench) measureIPAMSim(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go"
	}
	start := time.Now()
	cmd := exec.Command(goBin, "test", "-count=1", "-run", "^TestSimulation$", "-v", "./ipalloc/", "-args", "-ipalloc.long")
	cmd.Dir = e2e.RepoRoot()
	cmd.Env = e2e.CleanEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("bench: long IPAM simulation failed: %v\n%s", err, e2e.LastLines(string(out), 30))
		b.rep.note("IPAM: the long randomized simulation FAILED (see the test log).")
		return
	}
	b.rep.add("IPAM and DNS", "long randomized simulation, 8 seeds × 2,000 steps, no duplicate", "ipalloc TestSimulation", "s",
		time.Since(start).Seconds())
	b.rep.note("IPAM: the long randomized simulation (`go test -run TestSimulation ./ipalloc/ -args -ipalloc.long`) checked after every step that no address is leased twice, no block held twice and no lease lost; it passed.")
}
