// Package meshsim simulates a weavego cluster of hundreds or thousands of
// hosts in simulated time, to measure how the replicated map of package
// mesh scales: how fast a new entry reaches every host, what a joining
// host receives, the bytes each host sends idle and under churn, and how
// long the map takes to heal after a partition. It is test support, like
// meshtest; nothing in the plugin imports it.
//
// # What is real
//
// Each host is a Protocol's Node. The default protocol, FullState, is
// today's format 1: each host is a mesh.Replica, so writes, the merge
// rule, tombstones, the admission gate (generic bounds, the plugin's
// validators of package reconcile, per-owner caps) and the wire encoding
// are mesh's own code, and every byte counted is the length of a real
// encoded message. The workload uses the plugin's record types: per host
// one network record, and per container an endpoint and a name entry,
// written by the host that runs it. A later protocol (format 3's sync by
// difference) plugs in as another Protocol: push/pull is modelled as a
// conversation of messages, so a summary followed by requests and chunks
// fits as well as today's two full maps.
//
// # What is modelled
//
// One discrete-event loop (a priority queue of events in simulated time)
// and one seeded random source, no goroutines: the same seed gives the
// same figures. Memberlist is modelled by its documented rules:
//
//   - gossip: every GossipInterval (200 ms, each host at its own random
//     offset) a host sends one packet to each of GossipNodes (3) random
//     members it reaches, each packet filled from its transmit-limited
//     queue (fewest transmits first, newest first among equals, up to
//     memberlist's 1,400-byte UDP budget less the label, encryption and
//     compound headers); a broadcast is sent RetransmitMult ×
//     ceil(log10(N+1)) times and replaced in the queue by a newer one for
//     the same entry. A host passes on a broadcast that changed its map.
//   - push/pull: every PushPullInterval (10 s), scaled as memberlist
//     scales it above 32 members (one more interval per doubling), each
//     host exchanges state with one random member; a joining host does so
//     with one member at once. Each leg takes a latency plus its size at
//     a stream bandwidth (1 Gbit/s) and carries memberlist's member list
//     (estimated at 80 bytes a member). A state above memberlist's 20 MiB
//     limit is refused and the exchange fails.
//   - network: a one-way latency drawn uniformly (0.2-2 ms), a loss
//     probability per gossip packet, and partitions (a cut between two
//     halves); bytes are counted per host, with memberlist's per-packet
//     overhead (compound header 2, label 9, encryption 29, IPv4 and UDP
//     28: 68 bytes a packet, plus 3 per message) and an estimated 133
//     bytes per push/pull message (label, encryption, memberlist's header,
//     TCP segments' headers).
//
// # Running it
//
// TestShort (make unit) runs 16 hosts through every phase in a few
// seconds and fails unless every host ends with the same map, admission
// refused nothing and a second run of the seed gives the same figures.
// TestScale is opt-in and prints a report per size:
//
//	go test ./mesh/meshsim -run TestScale -v -timeout 0 -args -meshsim.hosts=100,1000 -meshsim.endpoints=50
//
// make bench runs it at the sizes of BENCHMARKS.md (e2e/bench). Memory is
// the limit: a replica holds about 4.2 MiB per 10,000 endpoints, so 1,000
// full replicas of 1,000 × 50 endpoints need about 20 GiB.
//
// # What the model leaves out
//
// memberlist's failure detection (probes, acks, indirect probes) and
// suspicion: membership is exact and changes at once, so a partition cuts
// each half's view immediately and a heal restores it immediately, where
// memberlist takes seconds to declare the other half dead and needs a
// rejoin to merge again; probe traffic is not counted in the bytes.
// Gossip to recently dead members, memberlist's own broadcasts (alive,
// suspect, dead) sharing the packets, mesh's bound on its gossip queue
// and its direct (TCP) sending of entries too large for a packet (none of
// the workload's are). TCP itself (handshakes, congestion, retransmits)
// beyond a fixed overhead and a bandwidth per stream; contention between
// streams; CPU time (encoding, decoding and merging take no simulated
// time), garbage collection and real clocks (tombstones are stamped by
// the wall clock, and runs are shorter than the tombstone TTL, so no
// reaping happens).
package meshsim
