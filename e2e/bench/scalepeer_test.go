//go:build linux

package bench

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/weavego/weavego/e2e"
)

// The fake peer of the scale benchmark as a process: started in a namespace of its own on the underlay, driven
// by one-line commands on its stdin.

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
