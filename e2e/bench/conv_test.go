//go:build linux

package bench

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/weavego/weavego/e2e"
)

// benchFirstPing is one contender of the first-ping measurement: a network, the prober's namespace on h3 and
// the address prefix of the fixed addresses given to the new containers on h1.
type benchFirstPing struct {
	path, network, proberNS, ipPrefix string
}

// measureFirstPing starts, reps times and for weavego and Docker's overlay in turn, a container with a fixed
// address on h1 while a prober on h3 pings that address every 10 ms, and records: the time from the start of
// `docker run -d` to the first answer; for weavego also until the new endpoint is in the FDB of h2 and h3,
// and after `docker rm -f`, until it is gone from both.
func (b *bench) measureFirstPing(t *testing.T, reps int) {
	var cs []benchFirstPing
	if b.paths[benchWeavego] != nil && b.weaveNS[2] != "" {
		cs = append(cs, benchFirstPing{benchWeavego, benchWeaveNet, b.weaveNS[2], "10.99.0."})
	}
	if b.paths[benchOverlay] != nil {
		ns, _ := b.container(t, b.c.Host(2), benchOverlayNet, "ovl3")
		cs = append(cs, benchFirstPing{benchOverlay, benchOverlayNet, ns, "10.98.0."})
	}
	var fdbs []*benchFDB
	for _, h := range b.c.Hosts()[1:] {
		f, err := openBenchFDB(h)
		if err != nil {
			t.Fatal(err)
		}
		defer f.close()
		fdbs = append(fdbs, f)
	}
	for rep := 0; rep < reps; rep++ {
		for _, c := range cs {
			b.firstPingOnce(t, c, fmt.Sprintf("%s%d", c.ipPrefix, 200+rep), rep, fdbs)
		}
	}
	b.rep.note("First ping: a prober (the test binary in a tool mode) in a container on h3 sends an ICMP echo every 10 ms to a fixed address (`docker run --ip`) before `docker run -d` on h1 starts; figure = time from the start of `docker run -d` to the first reply. The prober lowers ARP retransmission on its eth0 to 100 ms (default 1 s) so the figure follows reachability closely; each repetition uses a new address, so no neighbour cache entry is stale.")
	b.rep.note("FDB convergence (weavego): the FDB of the VXLAN devices in the network namespaces of h2 and h3 is read through netlink every 5 ms; 'endpoint in FDB' is timed from the start of `docker run -d` on h1, 'removal' from the start of `docker rm -f` (whose own duration is reported too).")
}

func (b *bench) firstPingOnce(t *testing.T, c benchFirstPing, ip string, rep int, fdbs []*benchFDB) {
	h1 := b.c.Host(0)
	vteps := map[string]bool{h1.IP.String(): true}
	var before []map[string]string
	for _, f := range fdbs {
		m, err := f.entries(vteps)
		if err != nil {
			t.Errorf("bench: %v", err)
			return
		}
		before = append(before, m)
	}
	prober := b.startProber(t, c.proberNS, ip, fmt.Sprintf("%s-%d", c.path, rep))
	name := fmt.Sprintf("fp-%s-%d", c.path, rep)
	watchFDB := c.path == benchWeavego
	w := &benchNewEndpoint{}
	t0 := time.Now()
	if watchFDB {
		w.watch(t, fdbs, vteps, before)
	}
	_, err := h1.Docker("run", "-d", "--name", name, "--network", c.network, "--ip", ip, e2e.BusyboxImage, "sleep", "1d")
	runDur := time.Since(t0)
	if err != nil {
		t.Errorf("bench: first ping %s: %v", c.path, err)
		w.wg.Wait()
		return
	}
	b.rep.add("convergence", "docker run -d (CLI wall time)", c.path, "s", runDur.Seconds())
	if at, err := prober.wait(); err != nil {
		t.Errorf("bench: first ping %s: %v", c.path, err)
	} else {
		b.rep.add("convergence", "docker run -d to first ping from h3", c.path, "s", at.Sub(t0).Seconds())
	}
	w.wg.Wait()
	if watchFDB && !w.lastSeen.IsZero() {
		b.rep.add("convergence", "endpoint in FDB of all other hosts", benchWeavego, "s", w.lastSeen.Sub(t0).Seconds())
	}
	b.removeAndWatch(t, c, name, w.newMAC, fdbs, watchFDB)
}

// benchNewEndpoint watches the FDBs of the other hosts for a new endpoint's entry; read newMAC and lastSeen
// after wg.Wait.
type benchNewEndpoint struct {
	wg       sync.WaitGroup
	mu       sync.Mutex // guards newMAC and lastSeen
	newMAC   string     // the MAC of the entry that appeared
	lastSeen time.Time  // when the last FDB got it
}

// watch starts one watcher per FDB of fdbs, each waiting for an entry towards vteps that its snapshot in before
// lacks.
func (w *benchNewEndpoint) watch(t *testing.T, fdbs []*benchFDB, vteps map[string]bool, before []map[string]string) {
	for i, f := range fdbs {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			var mac string
			at, err := f.waitFDB(vteps, 30*time.Second, func(m map[string]string) bool {
				for k := range m {
					if _, old := before[i][k]; !old {
						mac = k
						return true
					}
				}
				return false
			})
			if err != nil {
				t.Errorf("bench: first ping: %v", err)
				return
			}
			w.mu.Lock()
			w.newMAC = mac
			if at.After(w.lastSeen) {
				w.lastSeen = at
			}
			w.mu.Unlock()
		}()
	}
}

// removeAndWatch removes the container and, for weavego, times until mac is gone from every FDB.
func (b *bench) removeAndWatch(t *testing.T, c benchFirstPing, name, mac string, fdbs []*benchFDB, watch bool) {
	h1 := b.c.Host(0)
	vteps := map[string]bool{h1.IP.String(): true}
	var wg sync.WaitGroup
	var mu sync.Mutex // guards last
	var last time.Time
	t1 := time.Now()
	if watch && mac != "" {
		for _, f := range fdbs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				at, err := f.waitFDB(vteps, 60*time.Second, func(m map[string]string) bool {
					_, present := m[mac]
					return !present
				})
				if err != nil {
					t.Errorf("bench: removal: %v", err)
					return
				}
				mu.Lock()
				if at.After(last) {
					last = at
				}
				mu.Unlock()
			}()
		}
	}
	if _, err := h1.Docker("rm", "-f", name); err != nil {
		t.Errorf("bench: %v", err)
	}
	rmDur := time.Since(t1)
	wg.Wait()
	b.rep.add("convergence", "docker rm -f (CLI wall time)", c.path, "s", rmDur.Seconds())
	if !last.IsZero() {
		b.rep.add("convergence", "docker rm -f to endpoint gone from FDB of all other hosts", benchWeavego, "s", last.Sub(t1).Seconds())
	}
}
