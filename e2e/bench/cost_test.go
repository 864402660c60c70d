//go:build linux

package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/weavego/weavego/e2e"
)

// benchClockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat (100 on every Linux we run on).
const benchClockTicks = 100

// benchPluginPID finds the `weavego daemon` process living in h's network namespace.
func benchPluginPID(h *e2e.Host) (int, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(h.NSPath(), &st); err != nil {
		return 0, err
	}
	want := fmt.Sprintf("net:[%d]", st.Ino)
	for _, pid := range e2e.PIDs() {
		cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !strings.Contains(string(cmd), "weavego\x00daemon") {
			continue
		}
		if ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid)); err == nil && ns == want {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("%s: no weavego daemon process in namespace %s", h.Name, h.NetNS)
}

// benchProcSample is a process's resident memory (kB) and its total CPU time (seconds).
type benchProcSample struct {
	rssKB float64
	cpu   float64
}

func benchSample(pid int) (benchProcSample, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return benchProcSample{}, err
	}
	var s benchProcSample
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			s.rssKB, _ = strconv.ParseFloat(strings.Fields(rest)[0], 64)
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return benchProcSample{}, err
	}
	f := strings.Fields(string(stat)[strings.LastIndexByte(string(stat), ')')+1:])
	// After the command: state is field 3 of the line, utime 14 and stime 15, so f[11] and f[12].
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	s.cpu = (ut + st) / benchClockTicks
	return s, nil
}

// benchWatch samples pid every 200 ms until stop is closed and returns the peak RSS seen.
func benchWatch(pid int, stop <-chan struct{}) <-chan float64 {
	out := make(chan float64, 1)
	go func() {
		peak := 0.0
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			if s, err := benchSample(pid); err == nil && s.rssKB > peak {
				peak = s.rssKB
			}
			select {
			case <-stop:
				out <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

// measureCost reports the plugin's memory and CPU on h1 (where containers come and go) and h2 (which only
// learns of them): over idle windows, then during a churn of 100 containers on h1, reps times each.
func (b *bench) measureCost(t *testing.T, reps int) {
	hosts := b.c.Hosts()[:2]
	pidOf := map[*e2e.Host]int{}
	for _, h := range hosts {
		pid, err := benchPluginPID(h)
		if err != nil {
			t.Fatal(err)
		}
		pidOf[h] = pid
	}
	window := func(what string, d time.Duration, during func() int) {
		before := map[*e2e.Host]benchProcSample{}
		stops := map[*e2e.Host]chan struct{}{}
		peaks := map[*e2e.Host]<-chan float64{}
		for _, h := range hosts {
			before[h], _ = benchSample(pidOf[h])
			stops[h] = make(chan struct{})
			peaks[h] = benchWatch(pidOf[h], stops[h])
		}
		t0 := time.Now()
		n := 0
		if during != nil {
			n = during()
		} else {
			time.Sleep(d)
		}
		el := time.Since(t0).Seconds()
		for _, h := range hosts {
			close(stops[h])
			peak := <-peaks[h]
			after, err := benchSample(pidOf[h])
			if err != nil {
				t.Errorf("bench: plugin of %s: %v", h.Name, err)
				continue
			}
			path := benchWeavego + " " + h.Name
			b.rep.add("plugin cost", what+": peak RSS", path, "MiB", peak/1024)
			b.rep.add("plugin cost", what+": CPU", path, "% of one core", 100*(after.cpu-before[h].cpu)/el)
			if n > 0 {
				b.rep.add("plugin cost", what+": CPU per container", path, "ms", 1000*(after.cpu-before[h].cpu)/float64(n))
			}
		}
		if n > 0 {
			b.rep.add("plugin cost", what+": containers per second", "h1 (docker)", "1/s", float64(n)/el)
		}
	}
	for rep := 0; rep < reps; rep++ {
		window("idle (10 s)", 10*time.Second, nil)
		window("churn of 100 containers", 0, func() int { return b.churn(t, 100, 4) })
	}
	b.rep.note("Plugin cost: the `weavego daemon` process is found by its command line and network namespace; RSS is VmRSS from /proc/PID/status sampled every 200 ms (peak of the window), CPU is the utime+stime delta of /proc/PID/stat over the window's wall time. Churn: 4 workers on h1 each loop `docker run -d --network %s busybox sleep` then `docker rm -f`, 100 containers in all.", benchWeaveNet)
}

// churn runs n containers through create, start and forced removal on h1's weavego network, with the given
// number of workers, and returns how many went through.
func (b *bench) churn(t *testing.T, n, workers int) int {
	h1 := b.c.Host(0)
	var next, done atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				id, err := h1.Docker("run", "-d", "--network", benchWeaveNet, e2e.BusyboxImage, "sleep", "1d")
				if err != nil {
					t.Errorf("bench: churn: %v", err)
					continue
				}
				if _, err := h1.Docker("rm", "-f", strings.TrimSpace(id)); err != nil {
					t.Errorf("bench: churn: %v", err)
					continue
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	return int(done.Load())
}
