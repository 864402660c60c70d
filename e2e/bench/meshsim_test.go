//go:build linux

package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/weavego/weavego/e2e"
	"github.com/weavego/weavego/mesh"
	"github.com/weavego/weavego/mesh/meshsim"
)

// benchSimSection is the report section of the cluster simulation.
const benchSimSection = "mesh simulation"

// benchSimEndpoints is the containers per host of the scale issue's goals.
const benchSimEndpoints = 50

// benchSimRuns are the sizes simulated: 100 hosts at the goals' 50 containers per host and at 10 (idle bytes
// against the map's size), and 1,000 hosts with one container each, whose map-sized figures are extrapolated to
// 50 from the bytes per entry of the full run: 1,000 full replicas of 1,000 × 50 do not fit in this machine's
// memory. The 1,000-host run has shorter phases (args), since its CPU time grows with hosts × the messages each
// receives. 5,000 hosts are not simulated: even at one container per host their replicas and encoded states take
// more memory than the machine has; the report derives what the size implies (simFarFinding).
var benchSimRuns = []struct {
	hosts, endpoints int
	args             []string
}{
	{100, benchSimEndpoints, []string{"-meshsim.protocol=diff"}},
	{100, 10, []string{"-meshsim.protocol=diff"}},
	{1000, 1, []string{"-meshsim.protocol=diff", "-meshsim.churn=20s", "-meshsim.partitionrate=1"}},
}

// benchSimFar is the size the report extrapolates to without simulating it.
const benchSimFar = 5000

// measureMeshSim runs mesh/meshsim's TestScale (the real replicas, admission and wire format of package mesh,
// memberlist's gossip and push/pull modelled, in simulated time) at each size, in a process of its own, and
// records its figures; for sizes run with fewer than 50 containers per host, it adds the figures extrapolated
// to 50.
func (b *bench) measureMeshSim(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go"
	}
	out := filepath.Join(t.TempDir(), "meshsim.json")
	for _, r := range benchSimRuns {
		cmd := exec.Command(goBin, "test", "-count=1", "-timeout", "0", "-run", "^TestScale$", "./mesh/meshsim/",
			"-args", fmt.Sprintf("-meshsim.hosts=%d", r.hosts), fmt.Sprintf("-meshsim.endpoints=%d", r.endpoints),
			"-meshsim.json="+out)
		cmd.Args = append(cmd.Args, r.args...)
		cmd.Dir = e2e.RepoRoot()
		cmd.Env = e2e.CleanEnv()
		if o, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("bench: mesh simulation of %d hosts failed: %v\n%s", r.hosts, err, e2e.LastLines(string(o), 30))
		}
	}
	runs, err := benchReadSimRuns(out)
	if err != nil {
		t.Errorf("bench: mesh simulation: %v", err)
		return
	}
	b.recordSim(runs)
}

func benchReadSimRuns(path string) ([]meshsim.ScaleRun, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var runs []meshsim.ScaleRun
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r meshsim.ScaleRun
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		runs = append(runs, r)
	}
	return runs, sc.Err()
}

// benchSimPath names a simulated size in the report.
func benchSimPath(r meshsim.Report, extrapolated bool) string {
	p := fmt.Sprintf("%d hosts × %d endpoints", r.Hosts, r.EndpointsPerHost)
	if extrapolated {
		p += " (extrapolated)"
	}
	return p
}

// recordSim adds the figures of the runs, the extrapolations and the notes that explain them.
func (b *bench) recordSim(runs []meshsim.ScaleRun) {
	perEntry := 0.0
	for _, r := range runs {
		if r.Report.EndpointsPerHost == benchSimEndpoints && r.Report.Entries > 0 {
			perEntry = float64(r.Report.StateBytes) / float64(r.Report.Entries)
		}
	}
	for _, r := range runs {
		if r.Phases.Churn != 0 && r.Phases.Churn != time.Minute || r.Phases.PartitionRate != 0 && r.Phases.PartitionRate != 10 {
			b.rep.note("Mesh simulation, %s: a shorter run (the simulation's CPU time grows with hosts × the "+
				"messages each receives): churn bytes over %s instead of 60 s, and %g container(s)/s instead of 10 "+
				"during the partition and until the heal.", benchSimPath(r.Report, false), r.Phases.Churn, r.Phases.PartitionRate)
		}
		b.addSim(r.Report, false)
		b.rep.add(benchSimSection, "simulation wall time", benchSimPath(r.Report, false), "s", r.RunTime.Seconds())
		b.rep.add(benchSimSection, "memory per 10,000 endpoints, one replica", "meshsim", "MiB",
			float64(r.MemoryPer10k)/(1<<20))
		if r.Report.EndpointsPerHost < benchSimEndpoints && perEntry > 0 && !benchSimHasFull(runs, r.Report.Hosts) {
			b.addSim(r.Report.Scaled(benchSimEndpoints, perEntry, 125e6), true)
		}
	}
	b.simIdleFinding(runs)
	b.rep.finding("Mesh simulation: a joining host's time is the transfer of the map alone (at 1 Gbit/s): the " +
		"model counts no CPU time, and decoding, admitting and merging 100,000 entries (1,000 hosts × 50 endpoints, " +
		"about 16 MB) takes real hosts a noticeable part of a second more. The goal's 10 s is met in time either " +
		"way. The joining host receives the whole map once (whole up to 4 MiB, else in chunks of at most 1 MiB); " +
		"every other push/pull carries summaries.")
	b.simCheckFinding(runs, perEntry)
	deadStated := map[int]bool{}
	for _, r := range runs {
		b.simQueueFinding(r.Report)
		b.simHealFinding(r.Report)
		if !deadStated[r.Report.Hosts] && r.Report.SpreadP99 > 0 {
			deadStated[r.Report.Hosts] = true
			b.simDeadFinding(r.Report)
		}
	}
	b.simFarFinding(runs, perEntry)
	b.rep.note("Mesh simulation: package mesh/meshsim (`go test ./mesh/meshsim -run TestScale -v -timeout 0 -args -meshsim.protocol=diff -meshsim.hosts=N -meshsim.endpoints=E`), one seed, in simulated time: every host a mesh.Replica (the real store, merge, admission with the plugin's validators, and format 3's sync by difference: summaries at push/pull, then requests and chunks of the writers that differ, the records of a small repair passed on by gossip and offers of the summary after a large one, mesh.Replica.Summary and Sync) holding the whole map, memberlist's gossip (200 ms, 3 peers, 4·ceil(log10(N+1)) transmits, 1,400-byte packets) and push/pull (10 s scaled as memberlist scales it above 32 members) modelled, latency 0.2-2 ms, 0.1%% of gossip packets lost; bytes are real message lengths plus memberlist's headers, and an estimated 80 bytes a member for the member list each push/pull carries. The package comment says what the model leaves out (failure detection and suspicion, TCP beyond a bandwidth, CPU time, GC, real clocks).")
	b.rep.note("Mesh simulation phases: idle bytes over two push/pull periods; 50 containers created one a second on the idle cluster, each entry timed until every host holds it (p50, p99; gossip rounds = seconds / 200 ms); churn of 10 containers/s cluster-wide (each a creation or a removal: an endpoint and a name entry) for 60 s; a new host joining by push/pull with one member, timed until it holds every entry; a partition in two halves for 60 s with churn, timed from the heal until every write made before it is on every host.")
	b.rep.note("Mesh simulation sizes: %d containers per host × 1,000 hosts would need about %.0f GiB for the replicas alone (memory per 10,000 endpoints × the map × the hosts), beyond this machine's 24 GiB; the larger clusters are simulated with fewer containers per host, and the figures that grow with the map (its size, what a joining host receives and its transfer time) extrapolated to 50 containers per host with the bytes per entry of the full run (%.0f B); gossip figures do not depend on the map's size.",
		benchSimEndpoints, benchSimMemGiB(runs, 1000), perEntry)
}

// benchSimHasFull reports whether hosts was also simulated at 50 endpoints per host (then its figures need no
// extrapolation).
func benchSimHasFull(runs []meshsim.ScaleRun, hosts int) bool {
	for _, r := range runs {
		if r.Report.Hosts == hosts && r.Report.EndpointsPerHost == benchSimEndpoints {
			return true
		}
	}
	return false
}

// benchSimMemGiB estimates the memory of hosts full replicas of hosts × 50 containers.
func benchSimMemGiB(runs []meshsim.ScaleRun, hosts int) float64 {
	if len(runs) == 0 {
		return 0
	}
	endpoints := float64(hosts * benchSimEndpoints)
	return float64(runs[0].MemoryPer10k) * endpoints / 1e4 * float64(hosts) / (1 << 30)
}

// addSim records one size's figures.
func (b *bench) addSim(r meshsim.Report, extrapolated bool) {
	p := benchSimPath(r, extrapolated)
	add := func(metric, unit string, v float64) { b.rep.add(benchSimSection, metric, p, unit, v) }
	if !extrapolated {
		add("new entry on all hosts, p50", "s", r.SpreadP50.Seconds())
		add("new entry on all hosts, p99", "s", r.SpreadP99.Seconds())
		add("new entry on all hosts, p99, in gossip rounds", "rounds", r.SpreadP99.Seconds()/0.2)
		add("new entry on all hosts under churn, p99", "s", r.ChurnP99.Seconds())
		if r.MaxQueue > 0 { // 0: a report from before the simulation counted it
			add("longest gossip queue of a host", "broadcasts", float64(r.MaxQueue))
		}
		b.addSimWait(p, "heal after a 60 s partition in two halves", r.Heal, r.HealOK)
	}
	if r.ByDifference {
		add("the whole map, encoded", "B", float64(r.StateBytes))
	} else {
		add("full state (one push/pull leg)", "B", float64(r.StateBytes))
	}
	add("bytes sent per host, idle", "B/s", r.IdleBytes)
	if !extrapolated || !r.ByDifference { // an answer carries all of a writer's records: they grow with the map
		add("bytes sent per host, churn of 10 containers/s", "B/s", r.ChurnBytes)
	}
	b.addSimWait(p, "new host holds the whole map", r.Join, r.JoinOK)
	add("bytes received by the new host", "B", float64(r.JoinBytes))
}

// addSimWait records a wait that ended in time, or notes that it did not (no figure).
func (b *bench) addSimWait(path, metric string, d time.Duration, ok bool) {
	if ok {
		b.rep.add(benchSimSection, metric, path, "s", d.Seconds())
		return
	}
	b.rep.finding("Mesh simulation, %s: %s: not reached (the simulation gave up after %s or, for an extrapolated "+
		"size, the full state exceeds memberlist's 20 MiB push/pull limit, which neither a join nor the repair after "+
		"a partition can pass with today's protocol).", path, metric, d.Round(time.Second))
}

// simIdleFinding compares idle bytes per host at the same number of hosts and two map sizes: the goal wants
// them independent of the number of endpoints.
func (b *bench) simIdleFinding(runs []meshsim.ScaleRun) {
	for i, x := range runs {
		for _, y := range runs[i+1:] {
			rx, ry := x.Report, y.Report
			if rx.Hosts != ry.Hosts || rx.EndpointsPerHost == ry.EndpointsPerHost || rx.IdleBytes == 0 {
				continue
			}
			if rx.ByDifference {
				b.rep.finding("Mesh simulation: idle bytes per host at %d hosts: %.0f B/s with %d endpoints per host "+
					"and %.0f B/s with %d (×%.2f for ×%.1f the entries): a push/pull carries a summary (per writer a "+
					"watermark, a count and a digest) and memberlist's member list, both of which follow the hosts, "+
					"not the endpoints.", rx.Hosts, rx.IdleBytes, rx.EndpointsPerHost, ry.IdleBytes,
					ry.EndpointsPerHost, ry.IdleBytes/rx.IdleBytes, float64(ry.Entries)/float64(rx.Entries))
				continue
			}
			b.rep.finding("Mesh simulation: idle bytes per host grow with the map, not only with the hosts: at %d "+
				"hosts, %d endpoints per host cost %.0f B/s and %d cost %.0f B/s (×%.2f for ×%.1f the entries). "+
				"Full maps at every push/pull (format 1, the protocol of a cluster that still holds a release "+
				"before format 3) miss the goal by design.", rx.Hosts, rx.EndpointsPerHost, rx.IdleBytes,
				ry.EndpointsPerHost, ry.IdleBytes, ry.IdleBytes/rx.IdleBytes, float64(ry.Entries)/float64(rx.Entries))
		}
	}
}

// simFarFinding derives, from the bytes per entry measured, what 5,000 hosts × 50 endpoints imply for today's
// protocol: the size of one push/pull's state against memberlist's 20 MiB limit, and the memory of full
// replicas.
func (b *bench) simFarFinding(runs []meshsim.ScaleRun, perEntry float64) {
	if perEntry == 0 || len(runs) == 0 {
		return
	}
	entries := benchSimFar * (2*benchSimEndpoints + 1)
	state := perEntry * float64(entries)
	verdict := "fits memberlist's 20 MiB push/pull limit"
	switch {
	case runs[0].Report.ByDifference:
		verdict = "a joining host receives in chunks of at most 1 MiB (no limit applies), while push/pull " +
			"carries summaries of 5,000 writers (about 200 kB)"
	case state > 20<<20:
		verdict = "exceeds memberlist's 20 MiB push/pull limit: every push/pull fails, so a joining host never " +
			"receives the map and the repair after a partition (or after any lost broadcast) never happens; only " +
			"gossip of new writes still works"
	}
	b.rep.finding("Mesh simulation, %d hosts × %d endpoints (not simulated, derived): %d entries make a full state "+
		"of about %.0f MiB, which %s. Full replicas for a simulation would take about %.0f GiB.", benchSimFar,
		benchSimEndpoints, entries, state/(1<<20), verdict, benchSimMemGiB(runs, benchSimFar))
}

// simCheckFinding tests the extrapolation where it can: a size run with fewer endpoints, extrapolated to 50,
// against the same size run at 50.
func (b *bench) simCheckFinding(runs []meshsim.ScaleRun, perEntry float64) {
	for _, full := range runs {
		for _, small := range runs {
			f, s := full.Report, small.Report
			if f.Hosts != s.Hosts || f.EndpointsPerHost != benchSimEndpoints || s.EndpointsPerHost >= f.EndpointsPerHost {
				continue
			}
			e := s.Scaled(benchSimEndpoints, perEntry, 125e6)
			b.rep.finding("Mesh simulation: the extrapolation checked at %d hosts: from %d endpoints per host to %d it "+
				"predicts %.0f B/s idle per host against %.0f measured, and %d bytes received by a joining host "+
				"against %d measured.", f.Hosts, s.EndpointsPerHost, benchSimEndpoints, e.IdleBytes, f.IdleBytes,
				e.JoinBytes, f.JoinBytes)
		}
	}
}

// simQueueFinding explains a slow spread under churn by a gossip queue that grew: writes arrived faster than
// gossip sends them, and what waits in the queue past its turn arrives by push/pull instead.
func (b *bench) simQueueFinding(r meshsim.Report) {
	if r.MaxQueue < 100 {
		return
	}
	b.rep.finding("Mesh simulation, %s: under churn of 10 containers/s a host's gossip queue grew to %d broadcasts: "+
		"each host sends at most 3 packets of about 1,400 bytes per 200 ms round and every write is sent %d times "+
		"by every host that passes it on, so about 20 entry writes a second cluster-wide already exceed what gossip "+
		"carries; the least-sent broadcasts go first, so each gets fewer sends than its limit before newer "+
		"ones overtake it, gossip leaves some hosts out, and push/pull (every %s) brings them the entry: a new entry on all hosts takes %.1f s at p99 under churn against %.1f s on an idle cluster.",
		benchSimPath(r, false), r.MaxQueue, r.RetransmitLimit, r.PushPull, r.ChurnP99.Seconds(), r.SpreadP99.Seconds())
}

// simDeadFinding states the derived bound for a dead host to leave every forwarding table at the simulated
// size: memberlist's probe and suspicion timings with weavego's settings plus the simulated spread of a new
// message, which a dead verdict is.
func (b *bench) simDeadFinding(r meshsim.Report) {
	fast, slow := mesh.DeadBounds(r.Hosts, r.SpreadP99)
	b.rep.finding("Dead host, %d hosts (derived, not measured): every host has declared a host that stopped "+
		"answering dead within %.1f s with one confirming peer, %.1f s without = 3 probe intervals (1.5 s, until "+
		"a probe of it has failed) + suspicion timeout (3 × max(1, log10 %d) × 0.5 s = %.1f s with a confirmation, "+
		"twice that without) + the simulated new-entry spread p99 (%.2f s); each host's reconcile then drops the "+
		"dead host's forwarding and neighbour entries in its next pass, triggered by the membership change "+
		"(reconcile/kernel.go applyRemotes skips entries of owners not alive). SWIM may take further 0.5 s "+
		"intervals if no peer happens to probe the host in its first two. Measured on 31 and 61 real processes "+
		"(mesh's TestStarvedPeer, docs/mesh-format-3.md §9): 3.3-4.9 s and 4.6 s.", r.Hosts, fast.Seconds(), slow.Seconds(), r.Hosts,
		(fast - 1500*time.Millisecond - r.SpreadP99).Seconds(), r.SpreadP99.Seconds())
}

// simHealFinding explains a heal slower than the 5 s goal.
func (b *bench) simHealFinding(r meshsim.Report) {
	if !r.HealOK || r.Heal <= 5*time.Second {
		return
	}
	if r.ByDifference {
		b.rep.finding("Mesh simulation, %s: the map healed %.1f s after the partition ended (%.1f push/pull periods "+
			"of %s; %d summaries offered, %d records passed on by gossip after small repairs). The first exchanges "+
			"across the cut pass on what they repaired (up to 256 records) or, for more, start offers of the "+
			"summary to random members; the last hosts that neither reached are repaired at their next push/pull.",
			benchSimPath(r, false), r.Heal.Seconds(), r.Heal.Seconds()/r.PushPull.Seconds(), r.PushPull, r.Offers,
			r.PassedOn)
		return
	}
	b.rep.finding("Mesh simulation, %s: the map healed %.1f s after the partition ended (%.1f push/pull periods of %s). "+
		"The broadcasts of the writes made during the partition were spent within each half; with full maps a "+
		"host passes on what it learns by gossip but not what it learns by push/pull, so those writes cross to "+
		"the other half only from push/pull to push/pull.",
		benchSimPath(r, false), r.Heal.Seconds(), r.Heal.Seconds()/r.PushPull.Seconds(), r.PushPull)
}
