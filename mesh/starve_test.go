package mesh

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The starved-peer test runs starveMembers meshes in this process and one
// more in a child process (this test binary re-run as TestStarvedChild),
// which it stops and continues with SIGSTOP/SIGCONT in bursts: what a host
// whose two cores are saturated looks like to its probes. It asserts that
// no healthy member is declared dead by anyone, then kills the child with
// SIGKILL and measures how long until every member lists it dead.
// MESH_STARVE_MEMBERS and MESH_STARVE_BURST (see burst) change the size and
// the bursts; MESH_STARVE_QUOTA=percent holds the child to a CFS quota
// instead (see quotaChild).
const (
	starveMembers  = 30
	starveFor      = 30 * time.Second
	starveStopped  = 1500 * time.Millisecond // per burst; the child runs 200 ms of every 1.7 s
	starveRunning  = 200 * time.Millisecond
	starveChildEnv = "MESH_STARVE_CHILD_JOIN"
)

// goneCounter counts the "peer gone" and "peer suspect" events mesh logs,
// by peer, for one member.
type goneCounter struct {
	mu      *sync.Mutex
	gone    map[string]int
	suspect map[string]int
}

func newGoneCounter() *goneCounter {
	return &goneCounter{mu: &sync.Mutex{}, gone: map[string]int{}, suspect: map[string]int{}}
}

func (g *goneCounter) Enabled(context.Context, slog.Level) bool { return true }

func (g *goneCounter) Handle(_ context.Context, rec slog.Record) error {
	var m map[string]int
	switch rec.Message {
	case "peer gone":
		m = g.gone
	case "peer suspect":
		m = g.suspect
	default:
		return nil
	}
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "peer" {
			g.mu.Lock()
			m[a.Value.String()]++
			g.mu.Unlock()
			return false
		}
		return true
	})
	return nil
}

func (g *goneCounter) WithAttrs([]slog.Attr) slog.Handler { return g }
func (g *goneCounter) WithGroup(string) slog.Handler      { return g }

// counts returns the events about peers other than except, and those about except.
func (g *goneCounter) counts(except string) (gone, suspect, goneExcept, suspectExcept int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for p, c := range g.gone {
		if p == except {
			goneExcept += c
		} else {
			gone += c
		}
	}
	for p, c := range g.suspect {
		if p == except {
			suspectExcept += c
		} else {
			suspect += c
		}
	}
	return gone, suspect, goneExcept, suspectExcept
}

// TestStarvedChild is the child process of TestStarvedPeer; it does
// nothing unless that test started it.
func TestStarvedChild(t *testing.T) {
	join := os.Getenv(starveChildEnv)
	if join == "" {
		t.Skip("run by TestStarvedPeer")
	}
	g := newGoneCounter()
	m, err := New(Config{
		Name: "starved", BindAddr: "127.0.0.1", BindPort: -1, AdvertiseAddr: netip.AddrFrom4([4]byte{127, 0, 0, 1}),
		Peers: []string{join}, Logger: slog.New(g),
	})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = m.Run(context.Background()) }()
	fmt.Println("child-ready")
	for { // until killed
		gone, suspect, _, _ := g.counts("")
		fmt.Printf("child-counts %d %d\n", gone, suspect)
		time.Sleep(200 * time.Millisecond)
	}
}

func startStarveNode(t *testing.T, name string, peers []string) (*Mesh, *goneCounter) {
	t.Helper()
	g := newGoneCounter()
	m, err := New(Config{
		Name: name, BindAddr: "127.0.0.1", BindPort: -1, AdvertiseAddr: netip.AddrFrom4([4]byte{127, 0, 0, 1}),
		Peers: peers, Logger: slog.New(g),
	})
	if err != nil {
		t.Fatalf("New(%s): %v", name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return m, g
}

func TestStarvedPeer(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about a minute")
	}
	if os.Getenv(starveChildEnv) != "" {
		t.Skip("in the child")
	}
	members := starveMembers
	if v, err := strconv.Atoi(os.Getenv("MESH_STARVE_MEMBERS")); err == nil && v > 1 {
		members = v
	}
	meshes := make([]*Mesh, members)
	counters := make([]*goneCounter, members)
	meshes[0], counters[0] = startStarveNode(t, "h0", nil)
	seed := meshes[0].list.LocalNode().Address()
	for i := 1; i < members; i++ {
		meshes[i], counters[i] = startStarveNode(t, "h"+strconv.Itoa(i), []string{seed})
	}
	child, childSaw := startStarveChild(t, seed)
	all := func(cond func(m *Mesh) bool) func() bool {
		return func() bool {
			for _, m := range meshes {
				if !cond(m) {
					return false
				}
			}
			return true
		}
	}
	waitFor(t, 60*time.Second, "every member sees all others", all(func(m *Mesh) bool { return m.Members() == members+1 }))
	time.Sleep(3 * time.Second) // let join-time suspicions settle
	base := make([][4]int, members)
	for i, g := range counters {
		base[i][0], base[i][1], base[i][2], base[i][3] = g.counts("starved")
	}

	childGone0, childSuspect0 := childSaw.get()
	stopped, running := burst(t)
	how := fmt.Sprintf("stopped %s of every %s", stopped, stopped+running)
	if pct := os.Getenv("MESH_STARVE_QUOTA"); pct != "" {
		how = "held to " + pct + " % of a core by a CFS quota"
		stopped = quotaChild(t, child.Process.Pid, pct)
	}
	start := time.Now()
	for stopped > 0 && time.Since(start) < starveFor {
		if err := child.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		time.Sleep(stopped)
		if err := child.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		time.Sleep(running)
	}
	if stopped == 0 {
		time.Sleep(starveFor)
		unquota(t, child.Process.Pid)
	}
	time.Sleep(5 * time.Second) // a verdict reached during the bursts spreads
	childGone, childSuspect := childSaw.get()
	childGone, childSuspect = childGone-childGone0, childSuspect-childSuspect0

	var gone, suspect, goneStarved, suspectStarved int
	for i, g := range counters {
		a, b, c, d := g.counts("starved")
		gone, suspect, goneStarved, suspectStarved = gone+a-base[i][0], suspect+b-base[i][1],
			goneStarved+c-base[i][2], suspectStarved+d-base[i][3]
	}
	t.Logf("%d healthy members, one %s for %s: healthy members declared dead %d times, "+
		"suspected %d times by their own probes and %d times by the starved member's, which declared %d "+
		"dead in its own list; the starved member declared dead %d times, suspected %d times",
		members, how, starveFor, gone, suspect, childSuspect, childGone,
		goneStarved, suspectStarved)
	if gone > 0 {
		t.Errorf("a healthy member was declared dead %d times while another was starved of CPU", gone)
	}

	// kill -9 the child once every member lists it alive, and time until every member lists it dead.
	waitFor(t, 30*time.Second, "the starved member alive everywhere", all(func(m *Mesh) bool { return m.Alive("starved") }))
	killed := time.Now()
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	bound := meshes[0].cfg.detectionBound(members + 1)
	waitFor(t, 4*bound, "the killed member dead everywhere", all(func(m *Mesh) bool { return !m.Alive("starved") }))
	t.Logf("killed member declared dead by all %d others after %s (detectionBound %s)",
		members, time.Since(killed).Round(time.Millisecond), bound)
}

// quotaChild moves pid into a cgroup (v1 cpu controller) whose CFS quota is
// pct percent of one core, and returns 0 (no bursts); it skips the test
// where that cgroup cannot be made (not root, no cgroup v1 cpu hierarchy).
func quotaChild(t *testing.T, pid int, pct string) time.Duration {
	t.Helper()
	p, err := strconv.Atoi(pct)
	if err != nil || p < 1 || p > 100 {
		t.Fatalf("MESH_STARVE_QUOTA=%q: want a percentage of one core, 1-100", pct)
	}
	dir := quotaDir(pid)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot make a CPU cgroup (needs root and cgroup v1's cpu controller): %v", err)
	}
	t.Cleanup(func() { unquota(t, pid) })
	for f, v := range map[string]string{"cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": strconv.Itoa(p * 1000),
		"cgroup.procs": strconv.Itoa(pid)} {
		if err := os.WriteFile(dir+"/"+f, []byte(v), 0o644); err != nil {
			t.Fatalf("cgroup %s: %v", f, err)
		}
	}
	return 0
}

func quotaDir(pid int) string { return "/sys/fs/cgroup/cpu/weavego-starve-" + strconv.Itoa(pid) }

// unquota moves pid back to the root cgroup and removes its cgroup.
func unquota(t *testing.T, pid int) {
	dir := quotaDir(pid)
	if _, err := os.Stat(dir); err != nil {
		return
	}
	if st, err := os.ReadFile(dir + "/cpu.stat"); err == nil {
		t.Logf("quota cgroup of the starved member: %s", strings.Join(strings.Fields(string(st)), " "))
	}
	_ = os.WriteFile("/sys/fs/cgroup/cpu/cgroup.procs", []byte(strconv.Itoa(pid)), 0o644)
	if err := os.Remove(dir); err != nil {
		t.Logf("removing cgroup %s: %v", dir, err)
	}
}

// burst returns how long the child is stopped and then run in each burst:
// the defaults, or MESH_STARVE_BURST="stopped,running" (durations).
func burst(t *testing.T) (stopped, running time.Duration) {
	v := os.Getenv("MESH_STARVE_BURST")
	if v == "" {
		return starveStopped, starveRunning
	}
	a, b, _ := strings.Cut(v, ",")
	s, err1 := time.ParseDuration(a)
	r, err2 := time.ParseDuration(b)
	if err1 != nil || err2 != nil {
		t.Fatalf("MESH_STARVE_BURST=%q: want two durations, stopped,running", v)
	}
	return s, r
}

// startStarveChild runs this test binary as TestStarvedChild, joined to
// seed, and waits until its mesh runs.
func startStarveChild(t *testing.T, seed string) (*exec.Cmd, *childCounts) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestStarvedChild$", "-test.count=1", "-test.timeout=10m")
	cmd.Env = append(os.Environ(), starveChildEnv+"="+seed)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	ready := make(chan bool, 1)
	counts := &childCounts{mu: &sync.Mutex{}}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var gone, suspect int
			switch {
			case strings.Contains(sc.Text(), "child-ready"):
				ready <- true
			case strings.HasPrefix(sc.Text(), "child-counts"):
				if _, err := fmt.Sscanf(sc.Text(), "child-counts %d %d", &gone, &suspect); err == nil {
					counts.set(gone, suspect)
				}
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("child mesh did not start")
	}
	return cmd, counts
}

// childCounts is the latest count of the child's own verdicts: peers it
// declared dead and peers its probes suspected.
type childCounts struct {
	mu            *sync.Mutex
	gone, suspect int
}

func (c *childCounts) set(gone, suspect int) {
	c.mu.Lock()
	c.gone, c.suspect = gone, suspect
	c.mu.Unlock()
}

func (c *childCounts) get() (gone, suspect int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gone, c.suspect
}
