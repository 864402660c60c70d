//go:build linux

package bench

import (
	"fmt"
	"strings"
	"testing"
)

// analyseRR explains a TCP request/response gap to the hand VXLAN with the paths that tell the datapath
// from the ends (benchEnds).
func (b *bench) analyseRR(diff float64, text string) {
	b.rep.finding("TCP request/response p50 is %s µs above the hand VXLAN — %s.%s", benchFmt(diff), text, b.benchEnds(benchRRMetric))
}

// benchEnds sets weavego against the hand VXLAN's devices with weavego's containers as the ends, and against
// weavego with Docker's NAT rules taken out of those containers, on metric; empty when those were not measured.
func (b *bench) benchEnds(metric string) string {
	w, ok1 := b.rep.median(metric, benchWeavego)
	h, ok2 := b.rep.median(metric, benchHand)
	e, ok3 := b.rep.median(metric, benchHandDockerEnds)
	if !ok1 || !ok2 || !ok3 {
		return ""
	}
	_, ends, _, _ := b.comparePaths(metric, benchWeavego, benchHandDockerEnds)
	gap := w - h
	text := fmt.Sprintf(" Over the hand VXLAN's own devices with weavego's two containers as the ends (%q) the figure is %s the hand VXLAN, of weavego's %s — %s", benchHandDockerEnds, benchAboveBelow(e-h), benchAboveBelow(gap), ends)
	if e-h >= gap/2 {
		text += ": the ends make most of weavego's gap to the hand VXLAN, not weavego's datapath. The hand VXLAN's ends are plain namespaces; weavego's are the namespaces Docker makes for containers."
	} else {
		text += ": the ends do not make most of weavego's gap to the hand VXLAN."
	}
	if n, ok := b.rep.median(metric, benchWeavego+benchNoNAT); ok {
		_, cmp, _, _ := b.comparePaths(metric, benchWeavego+benchNoNAT, benchHand)
		text += fmt.Sprintf(" With Docker's NAT rules taken out of the two containers, weavego is %s the hand VXLAN — %s", benchAboveBelow(n-h), cmp)
		if n-h <= 10 && w-n >= gap/2 {
			text += ": most of what the ends cost is the connection tracking that those rules (Docker's DNAT and SNAT for its embedded resolver at 127.0.0.11, in every container on a user-defined network) turn on in the container's namespace. Docker's overlay pays it too; a network driver cannot remove it without breaking Docker's own DNS."
		} else {
			text += ": connection tracking is not most of it."
		}
	}
	if o, ok := b.rep.median(metric, benchOverlay); ok {
		text += fmt.Sprintf(" Docker's overlay, whose ends are containers too, has %s µs.", benchFmt(o))
	}
	return text
}

// benchAboveBelow says a difference in µs as "d µs above" or "d µs below".
func benchAboveBelow(d float64) string {
	if d < 0 {
		return benchFmt(-d) + " µs below"
	}
	return benchFmt(d) + " µs above"
}

// throughputEnds sets a throughput shortfall against the hand VXLAN against the same figure over the hand
// VXLAN with weavego's containers as the ends, and over weavego without Docker's NAT rules; empty when those
// were not measured.
func (b *bench) throughputEnds(metric string) string {
	w, ok1 := b.rep.median(metric, benchWeavego)
	h, ok2 := b.rep.median(metric, benchHand)
	e, ok3 := b.rep.median(metric, benchHandDockerEnds)
	n, ok4 := b.rep.median(metric, benchWeavego+benchNoNAT)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return ""
	}
	text := fmt.Sprintf(" The hand VXLAN with weavego's containers as its ends reaches %.3f× the hand VXLAN (weavego %.3f×), and weavego with Docker's NAT rules taken out of the two containers %.3f×", e/h, w/h, n/h)
	switch {
	case n/h >= 0.97 && e/h < 0.97:
		return text + ": what weavego lacks against the hand VXLAN is the connection tracking that Docker's rules for its embedded resolver turn on in every container's namespace, which Docker's overlay pays too, not weavego's datapath."
	case n/h >= 0.97:
		return text + ": the container ends with their rules lose nothing here while weavego without them reaches the goal, so these figures single out no cause, and the shortfall is within this run's noise."
	}
	return text + ": connection tracking in the containers does not account for all of it."
}

// analyseDNSOtherHost explains a missed p99 for names of another host: dnsd answers them from the same local
// table as names of this host, so their figures can differ only by what the machine did during the runs.
func (b *bench) analyseDNSOtherHost() {
	there := benchDNSPath(benchDNSdnsd, benchDNSCases[1])
	p99, ok := b.rep.median(benchDNSP99, there)
	if !ok || p99 <= 1000 {
		return
	}
	p50, _ := b.rep.median(benchDNSP50, there)
	text := fmt.Sprintf("dnsd misses the 1 ms p99 for names of another host (%s µs at %d queries/s, p50 %s µs). It answers them from the same in-memory table as names of this host (names reach every host by gossip beforehand; a query sends nothing to the other host), so the work per query is the same",
		benchFmt(p99), benchDNSRate, benchFmt(p50))
	var noisy []string
	for _, ref := range []string{benchDNSPath(benchDNSdnsd, benchDNSCases[0]), benchDNSPath(benchDNSDocker, benchDNSCases[0])} {
		_, cmp, overlap, ok := b.comparePaths(benchDNSP99, there, ref)
		if ok {
			text += "; " + cmp
			if overlap {
				noisy = append(noisy, ref)
			}
		}
	}
	if len(noisy) > 0 {
		text += ". The p99 ranges overlap: from one run to the next the tail moves by milliseconds on this 2-CPU machine, where dnsperf, the server, softirq processing and three Docker hosts share the CPUs, so this run cannot tell names of another host from names of this host"
	} else {
		text += ". The ranges do not overlap, which the same work per query does not explain"
	}
	b.rep.finding("%s.", text)
}

// TestBenchAnalyseLatency checks the explanations of a request/response gap and of a DNS tail for names of
// another host on made-up reports.
func TestBenchAnalyseLatency(t *testing.T) {
	for _, c := range []struct {
		ends, noNAT []float64
		want        string
	}{
		{[]float64{29, 30, 33}, nil, "is 10.5 µs above the hand VXLAN, of weavego's 11.5 µs above"},
		{[]float64{29, 30, 33}, nil, "the ends make most of weavego's gap to the hand VXLAN, not weavego's datapath"},
		{[]float64{29, 30, 33}, []float64{20, 20.5, 21}, "weavego is 1.00 µs above the hand VXLAN"},
		{[]float64{29, 30, 33}, []float64{20, 20.5, 21}, "most of what the ends cost is the connection tracking"},
		{[]float64{29, 30, 33}, []float64{17, 18, 19}, "weavego is 1.50 µs below the hand VXLAN"},
		{[]float64{29, 30, 33}, []float64{31, 31.5, 32}, "weavego is 12.0 µs above the hand VXLAN"},
		{[]float64{29, 30, 33}, []float64{31, 31.5, 32}, "connection tracking is not most of it"},
		{[]float64{19, 20, 20.5}, nil, "the ends do not make most of weavego's gap"},
		{nil, nil, "TCP request/response p50 is 11.5 µs above the hand VXLAN — "},
	} {
		r := newBenchReport()
		for path, vals := range map[string][]float64{benchWeavego: {30, 31, 32}, benchHand: {19, 19.5, 20},
			benchHandDockerEnds: c.ends, benchWeavego + benchNoNAT: c.noNAT} {
			for _, v := range vals {
				r.add("latency", benchRRMetric, path, "µs", v)
			}
		}
		(&bench{rep: r}).analyseGoals()
		if all := strings.Join(r.findings, "\n"); !strings.Contains(all, c.want) {
			t.Errorf("container ends %v, without NAT %v: findings lack %q:\n%s", c.ends, c.noNAT, c.want, all)
		}
	}

	ovl := newBenchReport()
	for path, vals := range map[string][]float64{benchWeavego: {30, 31, 32}, benchOverlay: {25, 26}, benchHandDockerEnds: {30, 31}} {
		for _, v := range vals {
			ovl.add("latency", benchRRMetric, path, "µs", v)
		}
	}
	(&bench{rep: ovl}).analyseGoals()
	if all := strings.Join(ovl.findings, "\n"); !strings.Contains(all, "Misses the goal \"TCP req/resp p50, weavego / Docker overlay <= 1.0\" (1.22)") {
		t.Errorf("request/response against the overlay: %s", all)
	}

	dns := newBenchReport()
	there, here := benchDNSPath(benchDNSdnsd, benchDNSCases[1]), benchDNSPath(benchDNSdnsd, benchDNSCases[0])
	for _, v := range []float64{519, 1159, 3661} {
		dns.add("dns", benchDNSP99, there, "µs", v)
	}
	for _, v := range []float64{472, 803, 2136} {
		dns.add("dns", benchDNSP99, here, "µs", v)
	}
	(&bench{rep: dns}).analyseDNSOtherHost()
	if len(dns.findings) != 1 || !strings.Contains(dns.findings[0], "this run cannot tell names of another host from names of this host") {
		t.Errorf("DNS findings: %q", dns.findings)
	}
	met := newBenchReport()
	met.add("dns", benchDNSP99, there, "µs", 900)
	(&bench{rep: met}).analyseDNSOtherHost()
	if len(met.findings) != 0 {
		t.Errorf("p99 met, yet findings: %q", met.findings)
	}
}

// TestBenchThroughputEnds checks the explanation of a throughput shortfall on made-up figures.
func TestBenchThroughputEnds(t *testing.T) {
	for _, c := range []struct {
		ends, noNAT float64
		want        string
	}{
		{13.2, 13.6, "0.986×: what weavego lacks against the hand VXLAN is the connection tracking"},
		{13.8, 13.6, "single out no cause"},
		{13.2, 13.0, "does not account for all of it"},
	} {
		r := newBenchReport()
		for path, v := range map[string]float64{benchWeavego: 13.1, benchHand: 13.8, benchHandDockerEnds: c.ends, benchWeavego + benchNoNAT: c.noNAT} {
			r.add("throughput", "TCP 1 stream", path, "Gbit/s", v)
		}
		if got := (&bench{rep: r}).throughputEnds("TCP 1 stream"); !strings.Contains(got, c.want) {
			t.Errorf("without NAT %v: %q lacks %q", c.noNAT, got, c.want)
		}
	}
	if got := (&bench{rep: newBenchReport()}).throughputEnds("TCP 1 stream"); got != "" {
		t.Errorf("nothing measured, yet %q", got)
	}
}
