//go:build linux

package e2e

import (
	"bytes"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// pingInterval is how often a pinger sends.
const pingInterval = 100 * time.Millisecond

// pinger pings an address from a container's network namespace every pingInterval until stopped, with the
// machine's busybox (so the container needs no ping and a docker exec is not in the way).
type pinger struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

// pingResult sums up a pinger's run: the longest stretch without replies, measured in sequence numbers.
type pingResult struct {
	sent, replies int
	longestGap    time.Duration
}

func (r pingResult) String() string {
	return fmt.Sprintf("%d sent, %d replies, longest gap without replies %s", r.sent, r.replies, r.longestGap)
}

// startPinger starts pinging ip from container ctr on h.
func startPinger(h *Host, ctr, ip string) (*pinger, error) {
	pid, err := h.Docker("inspect", "--format", "{{.State.Pid}}", ctr)
	if err != nil {
		return nil, err
	}
	bb, err := busyboxPath()
	if err != nil {
		return nil, err
	}
	p := &pinger{done: make(chan struct{})}
	p.cmd = exec.Command("nsenter", "--net=/proc/"+strings.TrimSpace(pid)+"/ns/net", "--", bb, "ping",
		"-i", strconv.FormatFloat(pingInterval.Seconds(), 'f', -1, 64), "-W", "1", ip)
	p.cmd.Stdout = writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.out.Write(b)
	})
	p.cmd.Env = CleanEnv()
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

var seqPattern = regexp.MustCompile(`seq=(\d+) `)

// stop ends the pinger and returns what it saw.
func (p *pinger) stop() pingResult {
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return parsePings(p.out.String())
}

// parsePings reads busybox ping output: reply lines carry seq=N; the summary line says how many were sent.
// A gap is the time between two consecutive replies less one interval, so a loss-free run has none.
func parsePings(out string) pingResult {
	var r pingResult
	last := -1
	var seqs []int
	for _, m := range seqPattern.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[1])
		seqs = append(seqs, n)
	}
	for _, n := range seqs {
		r.replies++
		if last >= 0 && n-last > 1 {
			if g := time.Duration(n-last-1) * pingInterval; g > r.longestGap {
				r.longestGap = g
			}
		}
		if n > last {
			last = n
		}
	}
	if i := strings.Index(out, " packets transmitted"); i > 0 {
		f := strings.Fields(out[:i])
		r.sent, _ = strconv.Atoi(f[len(f)-1])
	}
	if r.replies == 0 {
		r.longestGap = time.Duration(r.sent) * pingInterval
	}
	if r.sent > 0 && last >= 0 && r.sent-1-last > 0 {
		// Replies stopped before the end: that stretch counts too.
		if g := time.Duration(r.sent-1-last) * pingInterval; g > r.longestGap {
			r.longestGap = g
		}
	}
	return r
}
