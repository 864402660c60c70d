// Package metrics exposes weavego's state and activity to Prometheus.
//
// Most figures are read at scrape time from what the other packages already
// keep (mesh.Stats, ipalloc.Status, dnsd.Stats, the datapath's desired FDB
// and neighbour entries, the input firewall's counters) by one Collector;
// nothing in those packages knows about Prometheus. The few figures no
// package keeps — latencies, reconcile runs, plugin requests — are measured
// by thin wrappers around the interfaces the plugin already wires together
// (the cluster agent's Kernel, the IPAM driver's Allocator, the plugin API's
// http.Handler) and by dnsd's Observer hook.
//
// Every metric is named weavego_*, and everything is registered on a
// registry of its own (New), never on the process-wide default one.
package metrics
