//go:build linux

package bench

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weavego/weavego/e2e"
)

// The two paths of the DNS comparison, each with the same minimal resolver (dnsstub) at its end: what the
// path costs, without either server's own work.
const (
	benchDNSPathWeavego = "minimal resolver over dnsd's path"
	benchDNSPathLoop    = "minimal resolver over loopback in the container"
	benchDNSPathPort    = 5302
)

// benchDNSPathStub is one minimal resolver and where dnsperf asks it from.
type benchDNSPathStub struct {
	path, clientNS, addr string
	port                 int
}

// startDNSPathStubs starts the minimal resolver twice on h1: in weavego's network namespace, where dnsd
// listens, asked at dnsd's address from the weavego container wClient (container veth, bridge, local
// delivery); and in the bridge network's container dClient, asked on its loopback as Docker's resolver is
// (without Docker's DNAT rule). It returns them once both answer, or none when either cannot start.
func (b *bench) startDNSPathStubs(t *testing.T, wClient, dClient string) []benchDNSPathStub {
	_, br, _, err := b.weavegoDevices()
	if err != nil {
		t.Errorf("bench: DNS path stubs: %v", err)
		return nil
	}
	port := strconv.Itoa(benchDNSPathPort)
	stubs := []struct {
		benchDNSPathStub
		serverNS, listen string
	}{
		{benchDNSPathStub{benchDNSPathWeavego, wClient, e2e.DNSServiceAddr, benchDNSPathPort}, b.c.Host(0).DevNS(br), "0.0.0.0"},
		{benchDNSPathStub{benchDNSPathLoop, dClient, "127.0.0.1", benchDNSPathPort}, dClient, "127.0.0.1"},
	}
	var out []benchDNSPathStub
	for i, s := range stubs {
		d, err := e2e.StartServer("dnsstub", filepath.Join(b.c.Dir(), fmt.Sprintf("bench-dnspath-%d.log", i)), benchToolCmd(s.serverNS, "dnsstub", port, s.listen)...)
		if err != nil {
			t.Errorf("bench: DNS path stub: %v", err)
			return nil
		}
		b.t.Cleanup(func() { _ = d.Stop(5 * time.Second) })
		if err := e2e.Poll(20*time.Second, func() error { _, err := b.dnsperf(s.clientNS, s.addr, s.port, "web", 0); return err }); err != nil {
			t.Errorf("bench: %s does not answer: %v", s.path, err)
			return nil
		}
		out = append(out, s.benchDNSPathStub)
	}
	b.rep.note("DNS paths: the minimal miekg/dns resolver of \"DNS servers alone\" (one core, not pinned) in weavego's network namespace on h1, asked at dnsd's address port %d from the weavego client container (%q), and in the bridge network's client container, asked on its loopback (%q), in every repetition after the servers, with the same dnsperf runs: the cost of each path with the same server at its end. Docker's resolver is reached through a DNAT rule as well, which the loopback run leaves out.", benchDNSPathPort, benchDNSPathWeavego, benchDNSPathLoop)
	return out
}

// TestBenchDNSPathText checks how the servers' ratio is set against the paths' on made-up figures.
func TestBenchDNSPathText(t *testing.T) {
	for _, c := range []struct {
		weavego, loop, servers float64
		want                   string
	}{
		{80000, 100000, 0.82, "the path alone accounts for the difference"},
		{98000, 100000, 0.82, "does not account for all of the difference"},
		{98000, 100000, 1.07, "(ratio 0.98, against 1.07 for the two servers)."},
	} {
		r := newBenchReport()
		r.add("dns", benchDNSQPS, benchDNSPathWeavego, "q/s", c.weavego)
		r.add("dns", benchDNSQPS, benchDNSPathLoop, "q/s", c.loop)
		if got := (&bench{rep: r}).dnsPathText(c.servers); !strings.Contains(got, c.want) {
			t.Errorf("%v: %q lacks %q", c, got, c.want)
		}
	}
	if got := (&bench{rep: newBenchReport()}).dnsPathText(0.8); got != "" {
		t.Errorf("nothing measured, yet %q", got)
	}
}
