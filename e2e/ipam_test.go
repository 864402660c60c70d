//go:build linux

package e2e

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// burst starts n busybox containers named prefix-00.. on network net on h at once, removed at the end of owner.
// It returns the errors of the runs that failed, by name.
func burst(owner testing.TB, h *Host, net, prefix string, n int) map[string]error {
	names := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range names {
		names[i] = fmt.Sprintf("%s-%02d", prefix, i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = h.Docker("run", "-d", "--name", names[i], "--network", net, BusyboxImage, "sleep", "3600")
		}()
	}
	owner.Cleanup(func() { _, _ = h.Docker(append([]string{"rm", "-f"}, names...)...) })
	wg.Wait()
	failed := map[string]error{}
	for i, err := range errs {
		if err != nil {
			failed[names[i]] = err
		}
	}
	return failed
}

// addressesOn returns container name -> address of every running container on network net, on every host
// (name prefixed with the host).
func addressesOn(t *testing.T, hosts []*Host, net string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, h := range hosts {
		ids := strings.Fields(h.MustDocker(t, "ps", "-q", "--filter", "network="+net))
		if len(ids) == 0 {
			continue
		}
		lines := h.MustDocker(t, append([]string{"inspect", "--format",
			fmt.Sprintf(`{{.Name}} {{with index .NetworkSettings.Networks %q}}{{.IPAddress}}{{end}}`, net)}, ids...)...)
		for _, line := range strings.Split(lines, "\n") {
			f := strings.Fields(line)
			if len(f) != 2 {
				t.Fatalf("%s: container without an address on %s: %q", h.Name, net, line)
			}
			out[h.Name+f[0]] = f[1]
		}
	}
	return out
}

// distinct fails t if two containers share an address or one lies outside subnet or on the gateway.
func distinct(t *testing.T, addrs map[string]string, subnet, gateway string) {
	t.Helper()
	p := netip.MustParsePrefix(subnet)
	holder := map[string]string{}
	for name, ip := range addrs {
		if a, err := netip.ParseAddr(ip); err != nil || !p.Contains(a) || ip == gateway {
			t.Errorf("%s has address %q: want one in %s other than the gateway %s", name, ip, subnet, gateway)
		}
		if other, ok := holder[ip]; ok {
			t.Errorf("%s and %s both have %s", name, other, ip)
		}
		holder[ip] = name
	}
}

// ipam is the fixture of TestIPAM: three meshed hosts and network neta, created on h1 and seen on all.
// Containers that outlive a step (the bursts) are removed at the end of top, the test itself.
type ipam struct {
	top        *testing.T
	c          *Cluster
	h1, h2, h3 *Host
	neta       netView // as h1 sees it
}

// TestIPAM drives the cluster-wide allocator: concurrent bursts on every host, an address held elsewhere, a
// network without weavego's IPAM driver, a plugin killed during a burst, and weavego status ipam.
func TestIPAM(t *testing.T) {
	RequirePlugin(t)
	c := NewCluster(t, ClusterOptions{Hosts: 3, Mesh: 3})
	s := &ipam{top: t, c: c, h1: c.Host(0), h2: c.Host(1), h3: c.Host(2)}
	s.h1.CreateNetwork(t, "neta", netArgs...)
	for _, h := range []*Host{s.h2, s.h3} {
		Eventually(t, 2*time.Minute, func() error { _, err := h.NetworkView("neta"); return err })
	}
	v, err := s.h1.NetworkView("neta")
	if err != nil {
		t.Fatal(err)
	}
	s.neta = v

	runSteps(t, []step{
		{"Burst60", s.burst60},
		{"StaticIPUsedElsewhere", s.staticIPUsedElsewhere},
		{"NetworkWithoutIPAMDriver", s.networkWithoutIPAMDriver},
		{"KillDuringBurst", s.killDuringBurst},
		{"StatusIPAM", s.statusIPAM},
	})
}

func (s *ipam) burst60(t *testing.T) {
	start := time.Now()
	var mu sync.Mutex
	failed := map[string]error{}
	var wg sync.WaitGroup
	for _, h := range s.c.Hosts() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := burst(s.top, h, "neta", "b"+h.Name, 20)
			mu.Lock()
			for k, e := range f {
				failed[h.Name+"/"+k] = e
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	d := time.Since(start)
	for name, err := range failed {
		t.Errorf("docker run %s: %v", name, err)
	}
	addrs := addressesOn(t, s.c.Hosts(), "neta")
	if len(addrs) != 60 {
		t.Errorf("%d containers running with an address on neta, want 60", len(addrs))
	}
	distinct(t, addrs, s.neta.Subnet, s.neta.Gateway)
	t.Logf("60 containers (20 per host, started at once) got %d distinct addresses in %s", len(addrs), d.Round(100*time.Millisecond))
}

func (s *ipam) staticIPUsedElsewhere(t *testing.T) {
	taken, err := s.h1.ContainerIP("bh1-00", "neta")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = s.h2.Docker("rm", "-f", "thief") })
	_, err = s.h2.Docker("run", "-d", "--name", "thief", "--network", "neta", "--ip", taken, BusyboxImage, "sleep", "3600")
	if err == nil {
		t.Fatalf("h2 gave a container %s, which bh1-00 on h1 holds", taken)
	}
	readable(t, err.Error())
	if !strings.Contains(err.Error(), s.c.Peer[s.h1]) {
		t.Errorf("refusal does not name the host holding %s (%s, h1): %v", taken, s.c.Peer[s.h1], err)
	}
	t.Logf("docker run --ip %s on h2 refused: %v", taken, err)
}

func (s *ipam) networkWithoutIPAMDriver(t *testing.T) {
	t.Cleanup(func() { _, _ = s.h1.Docker("network", "rm", "netx") })
	_, err := s.h1.Docker("network", "create", "-d", Driver, "netx")
	if err == nil {
		t.Fatal("docker network create without --ipam-driver succeeded")
	}
	readable(t, err.Error())
	want := "docker network create -d " + Driver + " --ipam-driver " + Driver
	if !strings.Contains(err.Error(), want) {
		t.Errorf("refusal does not give the command %q: %v", want, err)
	}
	t.Logf("refused: %v", err)
}

func (s *ipam) killDuringBurst(t *testing.T) {
	var wg sync.WaitGroup
	var failed map[string]error
	wg.Add(1)
	go func() { defer wg.Done(); failed = burst(s.top, s.h1, "neta", "k", 15) }()
	// Kill once allocations are under way: the first containers of the burst run.
	runningAtKill := 0
	pollErr := Poll(2*time.Minute, func() error {
		out, _ := s.h1.Docker("ps", "-q", "--filter", "name=k-")
		if runningAtKill = len(strings.Fields(out)); runningAtKill < 3 {
			return errors.New("burst not under way")
		}
		return nil
	})
	killedAt := time.Now()
	old, kerr := s.h1.KillPlugin()
	if pollErr != nil || kerr != nil {
		wg.Wait()
		t.Fatalf("kill during the burst: %v", errors.Join(pollErr, kerr))
	}
	waitPluginBack(t, s.h1, old, 3*time.Minute)
	back := time.Since(killedAt)
	wg.Wait()
	t.Logf("plugin on h1 killed (SIGKILL) when %d of a burst of 15 containers ran; back %s after the kill; "+
		"%d runs failed; the burst ended %s after the kill", runningAtKill, back.Round(time.Millisecond), len(failed),
		time.Since(killedAt).Round(time.Millisecond))
	for name, err := range failed {
		t.Logf("  %s: %v", name, strings.TrimSpace(LastLines(err.Error(), 1)))
	}
	s.allocatesAfterRestart(t)
}

// allocatesAfterRestart checks, after h1's plugin came back from a kill, that every host still hands out
// distinct addresses (5 more containers each) and that h1's allocator counts the addresses its containers hold.
func (s *ipam) allocatesAfterRestart(t *testing.T) {
	before := addressesOn(t, s.c.Hosts(), "neta")
	distinct(t, before, s.neta.Subnet, s.neta.Gateway)
	var wg2 sync.WaitGroup
	for _, h := range s.c.Hosts() {
		wg2.Add(1)
		go func() {
			defer wg2.Done()
			for name, err := range burst(s.top, h, "neta", "after"+h.Name, 5) {
				t.Errorf("%s: docker run %s after the restart: %v", h.Name, name, err)
			}
		}()
	}
	wg2.Wait()
	after := addressesOn(t, s.c.Hosts(), "neta")
	distinct(t, after, s.neta.Subnet, s.neta.Gateway)
	if len(after) != len(before)+15 {
		t.Errorf("%d containers with addresses after 15 more runs, had %d", len(after), len(before))
	}
	st, err := s.h1.Status()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.IPAM.Problems) > 0 {
		t.Errorf("h1's allocator reports problems after the restart: %v", st.IPAM.Problems)
	}
	running := 0
	for name := range after {
		if strings.HasPrefix(name, "h1/") {
			running++
		}
	}
	for _, p := range st.IPAM.Pools {
		for _, hs := range p.Hosts {
			if p.ID == s.neta.Subnet && hs.Host == s.c.Peer[s.h1] && hs.Used < uint64(running) {
				t.Errorf("h1's allocator counts %d addresses used in %s, but %d containers there hold one", hs.Used, p.ID, running)
			}
		}
	}
}

func (s *ipam) statusIPAM(t *testing.T) {
	out, err := s.h1.WeavegoCLI("status", "ipam")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("weavego status ipam on h1:\n%s", out)
	running := map[string]int{}
	for name := range addressesOn(t, s.c.Hosts(), "neta") {
		running[strings.SplitN(name, "/", 2)[0]]++
	}
	var missing []string
	for _, h := range s.c.Hosts() {
		found := false
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) < 6 || f[0] != s.neta.Subnet || f[1] != s.c.Peer[h] {
				continue
			}
			found = true
			// USED may count the gateway on the host that created the network.
			if used, _ := strconv.Atoi(f[3]); used != running[h.Name] && used != running[h.Name]+1 {
				t.Errorf("weavego status ipam on h1 shows USED %d for %s, which runs %d containers on neta", used, h.Name, running[h.Name])
			}
		}
		if !found {
			missing = append(missing, h.Name+" ("+s.c.Peer[h]+")")
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("weavego status ipam has no line for pool %s and host(s) %s", s.neta.Subnet, strings.Join(missing, ", "))
	}
}
