//go:build linux

package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weavego/weavego/e2e"
)

// measureAttach times `docker run --rm --network NET busybox true` on h1, interleaving weavego, Docker's
// bridge and Docker's overlay; one unmeasured run of each comes first.
func (b *bench) measureAttach(t *testing.T, reps int) {
	h1 := b.c.Host(0)
	h1.MustDocker(t, "network", "create", benchBridgeNet)
	b.t.Cleanup(func() { _, _ = h1.Docker("network", "rm", benchBridgeNet) })
	nets := []struct{ path, network string }{{benchWeavego, benchWeaveNet}, {benchBridge, benchBridgeNet}, {benchOverlay, benchOverlayNet}}
	if b.paths[benchWeavego] != nil {
		// Without docker_gwbridge: what weavego's own endpoint costs, apart from Docker's second attachment.
		const internal = benchWeaveNet + "int"
		if _, err := h1.Docker("network", "create", "-d", e2e.Driver, "--ipam-driver", e2e.Driver, "--internal", "--subnet", "10.99.8.0/24", internal); err != nil {
			t.Errorf("bench: create %s: %v", internal, err)
		} else {
			b.t.Cleanup(func() { _, _ = h1.Docker("network", "rm", internal) })
			nets = append(nets, struct{ path, network string }{benchWeavegoInternal, internal})
		}
	}
	for rep := -1; rep < reps; rep++ {
		for _, n := range nets {
			if (n.path == benchWeavego && b.paths[benchWeavego] == nil) || (n.path == benchOverlay && b.paths[benchOverlay] == nil) {
				continue
			}
			t0 := time.Now()
			if _, err := h1.Docker("run", "--rm", "--network", n.network, e2e.BusyboxImage, "true"); err != nil {
				t.Errorf("bench: attach %s: %v", n.path, err)
				continue
			}
			if rep >= 0 {
				b.rep.add("attach", "docker run --rm true", n.path, "s", time.Since(t0).Seconds())
			}
		}
	}
	b.rep.note("Attach: wall time of the docker CLI running `docker run --rm --network NET busybox true` on h1 (create, attach, start, exit, detach, remove); one unmeasured warm-up run per network. %s is a weavego network created with `--internal`: Docker then attaches no second endpoint on docker_gwbridge, so the difference to weavego is the cost of that attachment, which Docker's overlay pays too.", benchWeavegoInternal)
}

// newHostConvergence installs weavego on h3 while h1 and h2 have three networks with two containers each,
// and times how long h3 takes to have every network in Docker and every remote endpoint in its FDB.
func (b *bench) newHostConvergence(t *testing.T) {
	h1, h2, h3 := b.c.Host(0), b.c.Host(1), b.c.Host(2)
	nets := []string{benchWeaveNet}
	for i := 1; i <= 2; i++ {
		name := fmt.Sprintf("%s%d", benchWeaveNet, i+1)
		b.createWeaveNet(t, name, fmt.Sprintf("10.99.%d.0/24", i))
		b.waitNetwork(t, h2, name, time.Minute)
		b.container(t, h1, name, fmt.Sprintf("nh%d1", i))
		b.container(t, h2, name, fmt.Sprintf("nh%d2", i))
		nets = append(nets, name)
	}
	const endpoints = 6 // one container on h1 and one on h2 per network
	fdb, err := openBenchFDB(h3)
	if err != nil {
		t.Fatal(err)
	}
	defer fdb.close()
	vteps := map[string]bool{h1.IP.String(): true, h2.IP.String(): true}
	t0 := time.Now()
	if err := b.installWeavego(h3); err != nil {
		t.Fatalf("bench: install weavego on h3: %v", err)
	}
	b.rep.add("convergence", "new host: plugin create+set+enable", benchWeavego, "s", time.Since(t0).Seconds())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		at, err := fdb.waitFDB(vteps, 2*time.Minute, func(m map[string]string) bool { return len(m) >= endpoints })
		if err != nil {
			t.Errorf("bench: new host: %v", err)
			return
		}
		b.rep.add("convergence", fmt.Sprintf("new host: all %d remote endpoints in its FDB", endpoints), benchWeavego, "s", at.Sub(t0).Seconds())
	}()
	err = e2e.Poll(2*time.Minute, func() error {
		out, err := h3.Docker("network", "ls", "--format", "{{.Name}}")
		for _, n := range nets {
			if !strings.Contains("\n"+out, "\n"+n+"\n") {
				return fmt.Errorf("network %s not on h3 yet: %v", n, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Errorf("bench: new host: %v", err)
	} else {
		b.rep.add("convergence", fmt.Sprintf("new host: all %d networks in its Docker", len(nets)), benchWeavego, "s", time.Since(t0).Seconds())
	}
	wg.Wait()
	b.rep.note("New host: h3's plugin is installed (create, set, enable) while h1 and h2 have %d weavego networks with one container each on h1 and h2; timed from the start of the install until h3's Docker lists every network (polled with the docker CLI, 100 ms to 2 s apart) and until h3's FDB holds the %d remote endpoints (polled through netlink every 5 ms). One sample: a host can be new only once per run.", len(nets), endpoints)
	ns, _ := b.container(t, h3, benchWeaveNet, "wg3")
	b.weaveNS[2] = ns
}

// probe is one running ICMP prober; wait returns the time of its first reply.
type benchProber struct {
	d   *e2e.Daemon
	log string
}

func (b *bench) startProber(t testing.TB, ns, ip, tag string) *benchProber {
	log := filepath.Join(b.c.Dir(), "bench-probe-"+tag+".log")
	d, err := e2e.StartServer("probe "+tag, log, benchToolCmd(ns, "probe", ip, "40")...)
	if err != nil {
		t.Fatalf("bench: %v", err)
	}
	b.t.Cleanup(func() { _ = d.Stop(5 * time.Second) })
	time.Sleep(300 * time.Millisecond) // let it start sending before the clock starts
	return &benchProber{d: d, log: log}
}

func (p *benchProber) wait() (time.Time, error) {
	select {
	case <-p.d.Done():
	case <-time.After(60 * time.Second):
		return time.Time{}, fmt.Errorf("prober still running after 60 s")
	}
	out, _ := os.ReadFile(p.log)
	var res benchProbeResult
	if err := benchDecodeResult(string(out), &res); err != nil {
		return time.Time{}, err
	}
	return time.Unix(0, res.FirstReply), nil
}
