//go:build linux

package bench

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weavego/weavego/e2e"
	"github.com/weavego/weavego/mesh"
)

// benchMeshJoinGap is the time between two members starting: 50 joins per second.
const benchMeshJoinGap = 20 * time.Millisecond

// benchMeshResult is what the mesh tool reports for one cluster size.
type benchMeshResult struct {
	Members int
	// JoinSeconds is the time until every member counted all the others.
	JoinSeconds float64
	Joined      bool
	// Spread is, per repetition, the time until one new entry was on every member (seconds; -1 = not all).
	Spread []float64
	// Reached is, per repetition, how many members had the entry at the end.
	Reached []int
	// Idle gossip over IdleSeconds: payload bytes mesh received (Stats.BytesReceived), bytes on the loopback
	// wire (memberlist probes, acks, headers and push/pull included), and CPU of the whole process.
	IdleSeconds                          float64
	PayloadBytesPerMemberSec, WireBPSPer float64
	CPUPercentOfCore                     float64
}

// benchMeshSim runs args[0] mesh members in this process on 127.0.0.1 (a namespace of its own, so the
// loopback counters are the mesh's alone) and measures membership, spread and gossip volume.
func benchMeshSim(args []string) (*benchMeshResult, error) {
	if len(args) != 2 {
		return nil, errors.New("usage: mesh MEMBERS REPS")
	}
	n, _ := strconv.Atoi(args[0])
	reps, _ := strconv.Atoi(args[1])
	if n < 2 || reps < 1 {
		return nil, fmt.Errorf("bad arguments %v", args)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const basePort = 20000
	nodes := make([]*mesh.Mesh, n)
	res := &benchMeshResult{Members: n}
	start := time.Now()
	for i := range nodes {
		peers := []string{fmt.Sprintf("127.0.0.1:%d", basePort)}
		if i > 1 {
			peers = append(peers, fmt.Sprintf("127.0.0.1:%d", basePort+i/2)) // spread the joins
		}
		m, err := mesh.New(mesh.Config{Name: fmt.Sprintf("m%03d", i), BindAddr: "127.0.0.1", BindPort: basePort + i,
			AdvertiseAddr: netip.AddrFrom4([4]byte{127, 0, 0, 1}), Peers: peers})
		if err != nil {
			return nil, err
		}
		nodes[i] = m
		go func() { _ = m.Run(ctx) }()
		time.Sleep(benchMeshJoinGap) // hosts do not all start in the same millisecond
	}
	defer benchCloseMeshes(nodes)
	res.Joined = benchWaitAll(90*time.Second, func() bool {
		for _, m := range nodes {
			if m.Members() != n {
				return false
			}
		}
		return true
	})
	res.JoinSeconds = time.Since(start).Seconds()
	time.Sleep(2 * time.Second) // let the join's broadcasts die down
	benchMeshIdle(nodes, res, 10*time.Second)
	for r := 0; r < reps; r++ {
		writer := nodes[(r*37+5)%n]
		key := fmt.Sprintf("ep-%d", r)
		t0 := time.Now()
		writer.Set("endpoint", key, []byte(strings.Repeat("v", 100)))
		all := benchWaitAll(30*time.Second, func() bool { return benchCountHaving(nodes, key) == n })
		spread := time.Since(t0).Seconds()
		if !all {
			spread = -1
		}
		res.Spread = append(res.Spread, spread)
		res.Reached = append(res.Reached, benchCountHaving(nodes, key))
	}
	return res, nil
}

func benchCountHaving(nodes []*mesh.Mesh, key string) int {
	c := 0
	for _, m := range nodes {
		if e, ok := m.Get("endpoint", key); ok && !e.Deleted {
			c++
		}
	}
	return c
}

// benchWaitAll polls cond every 2 ms until it holds (true) or within passes (false).
func benchWaitAll(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	return true
}

// benchMeshIdle measures gossip volume and CPU over an idle window.
func benchMeshIdle(nodes []*mesh.Mesh, res *benchMeshResult, d time.Duration) {
	payload := func() uint64 {
		var s uint64
		for _, m := range nodes {
			s += m.Stats().BytesReceived
		}
		return s
	}
	p0, w0, c0 := payload(), benchLoopbackBytes(), benchSelfCPU()
	t0 := time.Now()
	time.Sleep(d)
	el := time.Since(t0).Seconds()
	p1, w1, c1 := payload(), benchLoopbackBytes(), benchSelfCPU()
	n := float64(len(nodes))
	res.IdleSeconds = el
	res.PayloadBytesPerMemberSec = float64(p1-p0) / n / el
	res.WireBPSPer = float64(w1-w0) / n / el
	res.CPUPercentOfCore = 100 * (c1 - c0) / el
}

// benchLoopbackBytes is the received byte counter of lo in this process's namespace.
func benchLoopbackBytes() uint64 {
	b, _ := os.ReadFile("/proc/net/dev")
	for _, line := range strings.Split(string(b), "\n") {
		if name, rest, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "lo" {
			v, _ := strconv.ParseUint(strings.Fields(rest)[0], 10, 64)
			return v
		}
	}
	return 0
}

// benchSelfCPU is this process's utime+stime in seconds.
func benchSelfCPU() float64 {
	b, _ := os.ReadFile("/proc/self/stat")
	f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+1:])
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / benchClockTicks
}

func benchCloseMeshes(nodes []*mesh.Mesh) {
	var wg sync.WaitGroup
	for _, m := range nodes {
		if m != nil {
			wg.Add(1)
			go func() { defer wg.Done(); _ = m.Close() }()
		}
	}
	wg.Wait()
}

// measureMesh runs the mesh simulation for each size in a namespace of its own and records the figures.
func (b *bench) measureMesh(t *testing.T, sizes []int, reps int) {
	ns := b.nsName("mesh")
	benchMust(t, "ip", "netns", "add", ns)
	defer func() { _, _ = e2e.Run(30*time.Second, "ip", "netns", "delete", ns) }()
	benchMust(t, "ip", "-n", ns, "link", "set", "lo", "up")
	for _, n := range sizes {
		var res benchMeshResult
		t0 := time.Now()
		if err := benchToolResult(8*time.Minute, &res, "/var/run/netns/"+ns, "mesh", strconv.Itoa(n), strconv.Itoa(reps)); err != nil {
			t.Errorf("bench: mesh of %d: %v", n, err)
			b.rep.note("Mesh of %d members: failed after %s: %v", n, time.Since(t0).Round(time.Second), err)
			continue
		}
		path := fmt.Sprintf("mesh %d members", n)
		b.rep.add("mesh scale", "all members see all others", path, "s", res.JoinSeconds)
		for i, s := range res.Spread {
			if s >= 0 {
				b.rep.add("mesh scale", "one new entry on all members", path, "s", s)
			} else {
				b.rep.note("Mesh of %d members, repetition %d: the new entry reached %d of %d members within 30 s.", n, i+1, res.Reached[i], n)
			}
		}
		b.rep.add("mesh scale", "idle gossip payload received per member", path, "B/s", res.PayloadBytesPerMemberSec)
		b.rep.add("mesh scale", "idle gossip on the wire per member", path, "B/s", res.WireBPSPer)
		b.rep.add("mesh scale", "idle CPU of all members together", path, "% of one core", res.CPUPercentOfCore)
		if !res.Joined {
			b.rep.note("Mesh of %d members: not every member counted all %d within 90 s of the first start (the figure is that bound); the others were measured anyway.", n, n)
		}
		t.Logf("mesh %d: %+v (%s)", n, res, time.Since(t0).Round(time.Second))
	}
	b.rep.note("Mesh scale: %v members of the real mesh package (production timings) in one process, on 127.0.0.1 ports in a network namespace of their own, started %s apart, each joining member 0 and one earlier member; 'all members see all others' is timed from the first start. 'one new entry on all members' is timed from Set on one member until Get answers it on every member (polled every 2 ms), %d repetitions. Gossip volume is measured over 10 idle seconds: the payload mesh received (Stats().BytesReceived, entries and push/pull state) and all bytes on the namespace's loopback (memberlist probes, acks and headers too), divided by members and seconds.", sizes, benchMeshJoinGap, reps)
}
