//go:build linux

package bench

import "fmt"

// analyseSideBySide explains the DNS comparison with Docker's resolver, the cost of flooding and the scale
// figures, from the figures of this run only; it says nothing of what was not measured.
func (b *bench) analyseSideBySide() {
	b.analyseDNSPath()
	b.analyseDNSOtherHost()
	b.analyseFlood()
	b.analyseScale()
}

// analyseDNSPath sets dnsd against Docker's resolver, and the servers alone, so the report says whether a
// difference is the server's or the path's.
func (b *bench) analyseDNSPath() {
	here := benchDNSCases[0]
	d, ok1 := b.rep.median(benchDNSQPS, benchDNSPath(benchDNSdnsd, here))
	k, ok2 := b.rep.median(benchDNSQPS, benchDNSPath(benchDNSDocker, here))
	if !ok1 || !ok2 {
		return
	}
	text := fmt.Sprintf("dnsd answered names of this host at %s queries/s at saturation against %s for Docker's embedded resolver (ratio %.2f)",
		benchFmt(d), benchFmt(k), d/k)
	dp, ok7 := b.rep.median(benchDNSP99, benchDNSPath(benchDNSdnsd, here))
	kp, ok8 := b.rep.median(benchDNSP99, benchDNSPath(benchDNSDocker, here))
	if ok7 && ok8 {
		text += fmt.Sprintf("; at %d queries/s its p99 was %s µs against Docker's %s µs", benchDNSRate, benchFmt(dp), benchFmt(kp))
	}
	alone, ok3 := b.rep.median(benchDNSQPS, "dnsd alone, one core")
	stub, ok4 := b.rep.median(benchDNSQPS, "minimal miekg/dns resolver, one core")
	if ok3 && ok4 {
		text += fmt.Sprintf("; with the path taken away, dnsd alone answers %s queries/s against %s for a minimal miekg/dns resolver (ratio %.2f), so ",
			benchFmt(alone), benchFmt(stub), alone/stub)
		if alone/stub >= 0.9 {
			text += "the server's own work is not where a difference lies"
		} else {
			text += "part of the difference is the server's own work"
		}
	}
	text += ". The paths differ: a query to dnsd leaves the container through its veth and crosses the network's bridge to dnsd's socket in the network's own namespace, where no firewall rule and no conntrack see it (see the namespace figures above), and the reply goes back the same way; Docker's resolver has a socket in the container's own namespace, reached over loopback through a DNAT rule of the container's."
	text += b.dnsPathText(d / k)
	if d >= k {
		text = "Meets the DNS goal — " + text
	}
	b.rep.finding("%s", text)
	if ok7 && ok8 && dp > 1000 {
		sp, ok9 := b.rep.median(benchDNSP99, "dnsd alone, one core")
		tp, ok10 := b.rep.median(benchDNSP99, "minimal miekg/dns resolver, one core")
		alone := ""
		if ok9 && ok10 {
			alone = fmt.Sprintf(", and alone on loopback dnsd's p99 is %s µs against the minimal resolver's %s µs", benchFmt(sp), benchFmt(tp))
		}
		p50, _ := b.rep.median(benchDNSP50, benchDNSPath(benchDNSdnsd, here))
		why := "so part of the tail is dnsd's own"
		if kp >= dp {
			why = "so the tail is not dnsd's own but the machine's: 2 CPUs shared by dnsperf, the server, softirq processing and three Docker hosts, where a thread that wakes may wait a scheduler slice of a millisecond or more"
		}
		b.rep.finding("dnsd misses the 1 ms p99 for names of this host (%s µs at %d queries/s, p50 %s µs); Docker's resolver's p99 on the same load is %s µs%s, %s.",
			benchFmt(dp), benchDNSRate, benchFmt(p50), benchFmt(kp), alone, why)
	}
	fd, ok5 := b.rep.median(benchDNSP99, benchDNSPath(benchDNSdnsd, benchDNSCases[2]))
	fk, ok6 := b.rep.median(benchDNSP99, benchDNSPath(benchDNSDocker, benchDNSCases[2]))
	if ok5 && ok6 && fd > 1000 {
		b.rep.finding("Forwarded names miss the 1 ms p99 for both servers (dnsd %s µs, Docker %s µs): the p99 includes the upstream's own answer, from a resolver in the test process on this loaded machine; dnsd adds no queueing of its own (its forwarded throughput is %s that of Docker's resolver).",
			benchFmt(fd), benchFmt(fk), b.ratioText(benchDNSQPS, benchDNSPath(benchDNSdnsd, benchDNSCases[2]), benchDNSPath(benchDNSDocker, benchDNSCases[2])))
	}
}

// dnsPathText sets the servers' ratio against the same minimal resolver's over the two paths.
func (b *bench) dnsPathText(servers float64) string {
	w, ok1 := b.rep.median(benchDNSQPS, benchDNSPathWeavego)
	l, ok2 := b.rep.median(benchDNSQPS, benchDNSPathLoop)
	if !ok1 || !ok2 {
		return ""
	}
	text := fmt.Sprintf(" With the same minimal resolver at the end of each path, dnsd's path carries %s queries/s and loopback in a container %s (ratio %.2f, against %.2f for the two servers)",
		benchFmt(w), benchFmt(l), w/l, servers)
	if servers < 1 && w/l <= servers+0.1 {
		return text + ": the path alone accounts for the difference; on this machine a query across a veth and a bridge and its reply cost the 2 CPUs more than the same over loopback."
	}
	if servers < 1 {
		return text + ": the path does not account for all of the difference."
	}
	return text + "."
}

func (b *bench) ratioText(metric, num, den string) string {
	n, ok1 := b.rep.median(metric, num)
	d, ok2 := b.rep.median(metric, den)
	if !ok1 || !ok2 || d == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f×", n/d)
}

func (b *bench) analyseFlood() {
	p, ok := b.rep.median("underlay VXLAN packets sent per broadcast datagram", "weavego, 3 hosts")
	if !ok {
		return
	}
	by, _ := b.rep.median("underlay bytes sent per broadcast datagram", "weavego, 3 hosts")
	b.rep.finding("Flooding costs what head-end replication predicts: %s underlay packets (%s bytes) per broadcast datagram with the network on 3 hosts, i.e. N-1 copies. On N hosts a broadcast or multicast stream of R packets/s costs the sender (N-1)·R packets/s of VXLAN and every other host R packets/s, whether or not it has a listener: fine for discovery protocols and occasional multicast (ARP rarely floods: remote neighbours are permanent entries), not for a high-rate multicast feed on a large cluster (weavego has no multicast-aware replication).",
		benchFmt(p), benchFmt(by))
}

func (b *bench) analyseScale() {
	reach, ok := b.rep.median("new container on h1 reachable from h2 and h3", benchScalePath(1024))
	if !ok {
		return
	}
	verdict := "meets"
	if reach > 1 {
		verdict = "misses"
	}
	big := benchScalePath(benchScaleSizes[len(benchScaleSizes)-1])
	rec, _ := b.rep.median("h1 datapath reconcile run, mean", big)
	cpu, _ := b.rep.median("h1 plugin CPU per change", big)
	b.rep.finding("Scale: a new container on a network of 1,024 endpoints is reachable from every other host in %s s, which %s the 1 s goal. Each change makes every host recompute the desired FDB and neighbour entries of the network from the replicated map and compare them with the kernel's (reconcile, don't replay), so the work per change grows with the endpoints of the network: at %s, a reconcile run takes %s ms on average and a change costs h1's plugin %s ms of CPU. Bursts of changes are coalesced (fewer reconcile runs per change as runs get longer), so a burst costs far less than one run per change.",
		benchFmt(reach), verdict, big, benchFmt(rec), benchFmt(cpu))
}
