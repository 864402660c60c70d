//go:build linux

package bench

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weavego/weavego/e2e"
)

// Scale on one network: real containers on the 3 hosts as far as this machine allows, and the rest of
// benchScaleSizes as endpoints of a fake peer (fakepeer_test.go) that the real hosts put in their real
// FDB and neighbour tables.
const (
	benchScaleNet     = "benchscale"
	benchScaleSubnet  = "10.100.0.0/19" // 8,190 addresses: room for 4,096 fake endpoints above the real ones
	benchScaleSection = "scale, one network"
	benchScaleChanges = 50 // endpoints added one by one to time a change
	benchScaleGapMS   = 50
	benchScaleIdle    = 20 * time.Second // two push/pull rounds
)

var benchScaleSizes = []int{256, 1024, 4096}

func benchScalePath(size int) string { return fmt.Sprintf("%d endpoints", size) }

// benchScaleReal is how many real containers the scale step starts (WEAVEGO_BENCH_SCALE_REAL, default 200).
func benchScaleReal() int {
	if n, err := strconv.Atoi(os.Getenv("WEAVEGO_BENCH_SCALE_REAL")); err == nil && n >= 3 {
		return n
	}
	return 200
}

// benchFakePeerAddr is the fake peer's address on the underlay.
var benchFakePeerAddr = e2e.AddrAt(e2e.UnderlayPrefix, 50)

func (b *bench) measureScale(t *testing.T) {
	if b.weaveNS[2] == "" {
		t.Skip("bench: scale needs weavego on 3 hosts (steps setup-weavego and new-host)")
	}
	hosts := b.c.Hosts()
	b.createWeaveNet(t, benchScaleNet, benchScaleSubnet)
	for _, h := range hosts[1:] {
		b.waitNetwork(t, h, benchScaleNet, time.Minute)
	}
	probers := map[int]string{}
	for i, h := range hosts[1:] {
		probers[i+1], _ = b.container(t, h, benchScaleNet, fmt.Sprintf("scale-probe%d", i+1))
	}
	real := 2 + b.scaleContainers(t, benchScaleReal()-2)
	fp := b.startFakePeer(t)
	fdbs := make([]*benchFDB, len(hosts))
	for i, h := range hosts {
		f, err := openBenchFDB(h)
		if err != nil {
			t.Fatal(err)
		}
		defer f.close()
		fdbs[i] = f
	}
	fake := map[string]bool{benchFakePeerAddr.String(): true}
	for si, size := range benchScaleSizes {
		inj := max(size-real, 0)
		path := benchScalePath(size)
		b.rep.add(benchScaleSection, "real containers among them", path, "containers", float64(min(real, size)))
		t0 := time.Now()
		fp.cmd(t, fmt.Sprintf("set %d", inj))
		for _, f := range fdbs {
			if _, err := f.waitFDB(fake, 3*time.Minute, func(m map[string]string) bool { return len(m) == inj }); err != nil {
				t.Fatalf("bench: %d fake endpoints: %v", inj, err)
			}
		}
		b.rep.add(benchScaleSection, "fake endpoints in every host's FDB after they are published", path, "s", time.Since(t0).Seconds())
		time.Sleep(3 * time.Second)
		b.scaleFootprint(t, path, fp)
		b.scaleChange(t, path, fp, inj, fdbs[0])
		for rep := 0; rep < benchReps; rep++ {
			b.scaleReachable(t, path, probers, fmt.Sprintf("10.100.8.%d", 10*si+rep+2))
		}
	}
	b.scaleGrowth()
	b.rep.note("Scale: one weavego network (%s) on h1, h2 and h3 with %d real containers (busybox sleep, started with one docker run at a time per host, the hosts in parallel) and, to reach each size, endpoints published by a fake peer: a fourth member of the cluster in a namespace of its own on the underlay (%s), running the real mesh package with the cluster key and the cluster package's validators and record types (one endpoint and one name record per fake container, as a host with that many containers publishes), without Docker or a datapath. The real hosts admit those records through the same validation as any host's and reconcile their real FDB and neighbour tables with them. Nothing was added to the plugin for this: a holder of the cluster key could always do it. Fake endpoints are not pinged (no container behind them); reachability is timed for a new real container.",
		benchScaleSubnet, real, benchFakePeerAddr)
	b.rep.note("Scale figures: FDB and neighbour entries on h1's VXLAN device of the network (remote unicast FDB entries with a destination VTEP; all neighbour entries); plugin RSS (VmRSS) on each host; gossip = UDP and TCP bytes to and from port 6783 sent by h1 over %s idle (probes, gossip and push/pull of the full map); a change = %d endpoints added by the fake peer one every %d ms, timed until all are in h1's FDB, with h1's plugin CPU (utime+stime) over that time divided by %d, and the datapath reconcile runs and their mean duration from h1's weavego_datapath_reconcile_* metrics; reachable = from the start of `docker run -d --ip` on h1 until probers on h2 and h3 (pinging every 10 ms) both got a reply.",
		benchScaleIdle, benchScaleChanges, benchScaleGapMS, benchScaleChanges)
}

// scaleContainers starts n sleeping containers on the scale network, spread over the hosts, one docker run at
// a time per host; it returns how many started (a failure is reported, the rest still run).
func (b *bench) scaleContainers(t *testing.T, n int) int {
	hosts := b.c.Hosts()
	var wg sync.WaitGroup
	var mu sync.Mutex
	started := 0
	t0 := time.Now()
	for i, h := range hosts {
		want := n / len(hosts)
		if i < n%len(hosts) {
			want++
		}
		wg.Go(func() {
			var ids []string
			for k := 0; k < want; k++ {
				id, err := h.Docker("run", "-d", "--network", benchScaleNet, e2e.BusyboxImage, "sleep", "1d")
				if err != nil {
					t.Errorf("bench: scale container %d on %s: %v", k, h.Name, err)
					break
				}
				ids = append(ids, strings.TrimSpace(id))
			}
			t.Cleanup(func() {
				if len(ids) > 0 {
					_, _ = h.Docker(append([]string{"rm", "-f"}, ids...)...)
				}
			})
			mu.Lock()
			started += len(ids)
			mu.Unlock()
		})
	}
	wg.Wait()
	b.rep.add(benchScaleSection, fmt.Sprintf("start %d real containers on 3 hosts (in parallel per host)", started), "weavego", "s", time.Since(t0).Seconds())
	return started
}

// scaleFootprint records kernel entries, plugin RSS and idle gossip at one size.
func (b *bench) scaleFootprint(t *testing.T, path string, fp *benchPeerProc) {
	h1 := b.c.Host(0)
	if fdb, neigh, err := benchDatapathEntries(h1, benchScaleNet); err != nil {
		t.Errorf("bench: %v", err)
	} else {
		b.rep.add(benchScaleSection, "FDB entries (remote endpoints) on h1", path, "entries", float64(fdb))
		b.rep.add(benchScaleSection, "neighbour entries on h1", path, "entries", float64(neigh))
	}
	if m, err := benchReconcileMetrics(h1); err == nil {
		b.rep.add(benchScaleSection, "h1 datapath reconcile errors so far", path, "errors", m.errors)
	}
	for _, h := range b.c.Hosts() {
		if pid, err := benchPluginPID(h); err == nil {
			if s, err := benchSample(pid); err == nil {
				b.rep.add(benchScaleSection, "plugin RSS on "+h.Name, path, "MiB", s.rssKB/1024)
			}
		}
	}
	cnt, err := newBenchCounter(benchUnderlayNS(h1), "wgbenchgossip", "meta l4proto { tcp, udp } th dport 6783 counter", "meta l4proto { tcp, udp } th sport 6783 counter")
	if err != nil {
		t.Errorf("bench: %v", err)
		return
	}
	defer cnt.close()
	_, b0, _ := cnt.read()
	time.Sleep(benchScaleIdle)
	_, b1, err := cnt.read()
	if err == nil {
		b.rep.add(benchScaleSection, "gossip sent by h1, idle", path, "B/s", float64(b1-b0)/benchScaleIdle.Seconds())
	}
}

// scaleChange times benchScaleChanges endpoint additions (and then removes them).
func (b *bench) scaleChange(t *testing.T, path string, fp *benchPeerProc, inj int, fdb *benchFDB) {
	h1 := b.c.Host(0)
	pid, err := benchPluginPID(h1)
	if err != nil {
		t.Errorf("bench: %v", err)
		return
	}
	m0, _ := benchReconcileMetrics(h1)
	s0, _ := benchSample(pid)
	t0 := time.Now()
	fp.cmd(t, fmt.Sprintf("add %d %d %d", inj, benchScaleChanges, benchScaleGapMS))
	fake := map[string]bool{benchFakePeerAddr.String(): true}
	if _, err := fdb.waitFDB(fake, time.Minute, func(m map[string]string) bool { return len(m) == inj+benchScaleChanges }); err != nil {
		t.Errorf("bench: change: %v", err)
	}
	el := time.Since(t0)
	s1, _ := benchSample(pid)
	m1, _ := benchReconcileMetrics(h1)
	b.rep.add(benchScaleSection, fmt.Sprintf("%d single-endpoint changes, until all in h1's FDB", benchScaleChanges), path, "s", el.Seconds())
	b.rep.add(benchScaleSection, "h1 plugin CPU per change", path, "ms", (s1.cpu-s0.cpu)*1000/benchScaleChanges)
	if runs := m1.count - m0.count; runs > 0 {
		b.rep.add(benchScaleSection, "h1 datapath reconcile runs per change", path, "runs", runs/benchScaleChanges)
		b.rep.add(benchScaleSection, "h1 datapath reconcile run, mean", path, "ms", (m1.sum-m0.sum)*1000/runs)
	}
	fp.cmd(t, fmt.Sprintf("set %d", inj))
	if _, err := fdb.waitFDB(fake, time.Minute, func(m map[string]string) bool { return len(m) == inj }); err != nil {
		t.Errorf("bench: change back: %v", err)
	}
}

// scaleReachable times a new container on h1 until the probers on h2 and h3 get replies from it.
func (b *bench) scaleReachable(t *testing.T, path string, probers map[int]string, ip string) {
	h1 := b.c.Host(0)
	var ps []*benchProber
	for i, ns := range probers {
		ps = append(ps, b.startProber(t, ns, ip, fmt.Sprintf("scale%d-%s", i, ip)))
	}
	t0 := time.Now()
	id, err := h1.Docker("run", "-d", "--network", benchScaleNet, "--ip", ip, e2e.BusyboxImage, "sleep", "1d")
	if err != nil {
		t.Errorf("bench: %v", err)
		return
	}
	defer func() { _, _ = h1.Docker("rm", "-f", strings.TrimSpace(id)) }()
	var last time.Time
	for _, p := range ps {
		at, err := p.wait()
		if err != nil {
			t.Errorf("bench: reachable %s: %v", ip, err)
			return
		}
		if at.After(last) {
			last = at
		}
	}
	b.rep.add(benchScaleSection, "new container on h1 reachable from h2 and h3", path, "s", last.Sub(t0).Seconds())
}

// scaleGrowth states, for each scale figure, how it grows from one size to the next (4x endpoints each).
func (b *bench) scaleGrowth() {
	metrics := map[string][]float64{}
	var order []string
	for _, size := range benchScaleSizes {
		for _, row := range b.rep.rowsOf(benchScaleSection) {
			if row.Path != benchScalePath(size) || row.Metric == "real containers among them" {
				continue
			}
			if _, ok := metrics[row.Metric]; !ok {
				order = append(order, row.Metric)
			}
			med, _, _ := row.stats()
			metrics[row.Metric] = append(metrics[row.Metric], med)
		}
	}
	for _, m := range order {
		v := metrics[m]
		if len(v) != len(benchScaleSizes) || v[0] <= 0 {
			continue
		}
		var steps []string
		for i := 1; i < len(v); i++ {
			ratio := v[i] / v[i-1]
			steps = append(steps, fmt.Sprintf("%d→%d: ×%.2f (exponent %.2f)", benchScaleSizes[i-1], benchScaleSizes[i], ratio,
				math.Log(ratio)/math.Log(float64(benchScaleSizes[i])/float64(benchScaleSizes[i-1]))))
		}
		b.rep.finding("Growth of \"%s\" (%s … %s): %s; exponent 1 is linear in the endpoints, 0 constant, 2 quadratic.",
			m, benchFmt(v[0]), benchFmt(v[len(v)-1]), strings.Join(steps, ", "))
	}
}

// benchPeerProc is a running fake peer and its command pipe.
type benchPeerProc struct {
	cmdIn io.WriteCloser
	lines chan string
}

// startFakePeer starts the fake peer in a namespace of its own on the underlay and waits until it has joined
// and learnt the scale network.
func (b *bench) startFakePeer(t *testing.T) *benchPeerProc {
	ns := b.nsName("fakepeer")
	ul := b.c.UnderlayNS
	benchMust(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { _, _ = e2e.Run(30*time.Second, "ip", "netns", "delete", ns) })
	benchMust(t, "ip", "-n", ul, "link", "add", "name", "fakepeer", "type", "veth", "peer", "name", "eth0", "netns", ns)
	t.Cleanup(func() { _, _ = e2e.Run(30*time.Second, "ip", "-n", ul, "link", "delete", "fakepeer") })
	benchMust(t, "ip", "-n", ul, "link", "set", "fakepeer", "master", "br0", "up")
	benchMust(t, "ip", "-n", ns, "addr", "add", fmt.Sprintf("%s/%d", benchFakePeerAddr, e2e.UnderlayPrefix.Bits()), "dev", "eth0")
	benchMust(t, "ip", "-n", ns, "link", "set", "eth0", "up")
	benchMust(t, "ip", "-n", ns, "link", "set", "lo", "up")
	var peers []string
	for _, h := range b.c.Hosts() {
		peers = append(peers, h.IP.String())
	}
	args := benchToolCmd(e2e.NetnsDir+"/"+ns, "fakepeer", "benchpeer", benchFakePeerAddr.String(), b.key, benchScaleNet,
		strings.Join(peers, ","), strings.Join(b.scaleTaken(t), ","))
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = e2e.CleanEnv()
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("bench: fake peer: %v", err)
	}
	p := &benchPeerProc{cmdIn: in, lines: make(chan string, 16)}
	t.Cleanup(func() { p.stop(cmd) })
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), benchFakePeerPrefix); ok {
				p.lines <- rest
			} else {
				fmt.Fprintln(os.Stderr, "fakepeer:", sc.Text())
			}
		}
		close(p.lines)
	}()
	select {
	case l, ok := <-p.lines:
		if !ok || !strings.HasPrefix(l, "ready") {
			t.Fatalf("bench: fake peer did not start: %q", l)
		}
	case <-time.After(3 * time.Minute):
		t.Fatal("bench: fake peer not ready after 3 minutes")
	}
	return p
}

// stop withdraws the fake endpoints, lets the peer leave the cluster (stdin closed) and kills it if it has
// not exited after 10 s.
func (p *benchPeerProc) stop(cmd *exec.Cmd) {
	if _, err := fmt.Fprintln(p.cmdIn, "set 0"); err == nil {
		select {
		case <-p.lines:
		case <-time.After(30 * time.Second):
		}
	}
	_ = p.cmdIn.Close()
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// scaleTaken lists the addresses of the containers on the scale network, on every host.
func (b *bench) scaleTaken(t *testing.T) []string {
	var out []string
	for _, h := range b.c.Hosts() {
		s, err := h.Docker("network", "inspect", "--format", "{{range .Containers}}{{.IPv4Address}} {{end}}", benchScaleNet)
		if err != nil {
			t.Fatalf("bench: %v", err)
		}
		for _, p := range strings.Fields(s) {
			ip, _, _ := strings.Cut(p, "/")
			out = append(out, ip)
		}
	}
	return out
}

// cmd sends one command and waits for its answer.
func (p *benchPeerProc) cmd(t *testing.T, c string) string {
	if _, err := fmt.Fprintln(p.cmdIn, c); err != nil {
		t.Fatalf("bench: fake peer %q: %v", c, err)
	}
	select {
	case l, ok := <-p.lines:
		if !ok || strings.HasPrefix(l, "error") {
			t.Fatalf("bench: fake peer %q: %q", c, l)
		}
		return l
	case <-time.After(5 * time.Minute):
		t.Fatalf("bench: fake peer %q: no answer", c)
	}
	return ""
}

// benchReconcile is the datapath reconcile histogram's count and sum (seconds).
type benchReconcile struct{ count, sum, errors float64 }

// benchReconcileMetrics reads h's plugin metrics (METRICS_ADDR on the host's loopback).
func benchReconcileMetrics(h *e2e.Host) (benchReconcile, error) {
	out, err := e2e.Run(10*time.Second, "nsenter", "--net="+h.NSPath(), "--", "busybox", "wget", "-q", "-O", "-", "http://"+benchMetricsAddr+"/metrics")
	if err != nil {
		return benchReconcile{}, err
	}
	var r benchReconcile
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) != 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "weavego_datapath_reconcile_duration_seconds_count":
			r.count = v
		case "weavego_datapath_reconcile_duration_seconds_sum":
			r.sum = v
		case "weavego_datapath_reconcile_errors_total":
			r.errors = v
		}
	}
	return r, nil
}

// benchMetricsAddr is METRICS_ADDR of the benchmark's weavego hosts, on each host's loopback.
const benchMetricsAddr = "127.0.0.1:9783"
