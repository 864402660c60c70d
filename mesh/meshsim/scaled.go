package meshsim

import "time"

// Scaled estimates r's figures for the same cluster with endpoints
// containers per host, from bytesPerEntry, the encoded bytes one entry
// adds to a full state (measured where the whole map fits in memory).
// What today's protocol sends in proportion to the map scales: the state
// of each push/pull (two legs per exchange, each host starting one per
// period and answering one on average), and what a joining host
// receives; so does the transfer time of a join at the model's bandwidth.
// A state above memberlist's 20 MiB cannot be exchanged: joins and heals
// by push/pull then fail. Gossip figures do not depend on the map's size.
// With sync by difference (ByDifference) a push/pull carries a summary,
// whose size follows the writers, not the entries: idle and churn bytes
// stay, a join still receives the whole map (in chunks, so no limit
// applies), and StateBytes is the size of the map.
func (r Report) Scaled(endpoints int, bytesPerEntry, bandwidth float64) Report {
	extra := 2 * (endpoints - r.EndpointsPerHost) * r.Hosts
	grow := int(float64(extra) * bytesPerEntry)
	out := r
	out.EndpointsPerHost = endpoints
	out.Entries += extra
	out.StateBytes += grow
	out.JoinBytes += int64(grow)
	out.Join += time.Duration(float64(grow) / bandwidth * float64(time.Second))
	if r.ByDifference {
		return out
	}
	per := float64(2*grow) / r.PushPull.Seconds()
	out.IdleBytes += per
	out.ChurnBytes += per
	if out.StateBytes > maxPushStateBytes {
		out.JoinOK, out.HealOK, out.Converged = false, false, false
	}
	return out
}

// ScaleRun is one size of TestScale as it writes it with -meshsim.json:
// the report, the wall time the simulation took and the heap one replica
// holds per 10,000 endpoints.
type ScaleRun struct {
	Report       Report
	Phases       Phases
	RunTime      time.Duration
	MemoryPer10k uint64
}
