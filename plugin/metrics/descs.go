package metrics

import "github.com/prometheus/client_golang/prometheus"

// descs are the metrics the collector reads at scrape time.
type descs struct {
	build                                        *prometheus.Desc
	peers, entries, tombstones, rejected, merges *prometheus.Desc
	gossipQueued, gossipSent, gossipBytes        *prometheus.Desc
	gossipDecodeErr, gossipPruned                *prometheus.Desc
	gossipRefused                                *prometheus.Desc
	syncEvents                                   *prometheus.Desc
	poolSize, poolUsed, poolFree, poolLocal      *prometheus.Desc
	ipamProblems                                 *prometheus.Desc
	dnsForwarded, dnsCached, dnsUpstreamErr      *prometheus.Desc
	dnsStrangers, dnsOverBudget                  *prometheus.Desc
	dnsThrottled, dnsConnsRefused                *prometheus.Desc
	fdb, neigh, firewall                         *prometheus.Desc
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("weavego_"+name, help, labels, nil)
}

func newDescs() descs {
	return descs{
		build:      desc("build_info", "The running weavego's version; always 1.", "version"),
		peers:      desc("peers", "Peers of the mesh as this host sees them, this host included, by state.", "state"),
		entries:    desc("replicated_entries", "Live replicated entries held, by kind.", "kind"),
		tombstones: desc("replicated_tombstones", "Deleted entries held until they are reaped."),
		rejected: desc("rejected_entries_total",
			"Records of other hosts refused by admission (weavego status lists them per owner), by kind.", "kind"),
		merges: desc("gossip_merges_total",
			"Remote entries received: applied (changed the local map), ignored (old, duplicate or refused) or stale (a replay: below its writer's watermark, also counted in ignored).", "result"),
		gossipQueued:    desc("gossip_broadcasts_queued_total", "Entry and bye messages queued for gossip."),
		gossipSent:      desc("gossip_messages_sent_total", "Gossip messages handed to memberlist for sending."),
		gossipBytes:     desc("gossip_received_bytes_total", "Bytes of gossip messages and full states received."),
		gossipDecodeErr: desc("gossip_decode_errors_total", "Gossip messages and full states that could not be parsed."),
		gossipPruned: desc("gossip_dropped_total",
			"Broadcasts dropped because a queue was full (full-state sync repairs them)."),
		gossipRefused: desc("gossip_refused_before_key_total",
			"Gossip refused before authentication: streams (over a bound, too large, or opened by no key) "+
				"and datagrams of non-members over their shared rate.", "kind"),
		syncEvents: desc("gossip_sync_total",
			"Sync by difference: requests sent after a summary, chunks and records sent in answers, records dropped "+
				"at the end of an exchange (deleted or replaced elsewhere), chunks ignored (late, or replayed), records "+
				"passed on by gossip after a small repair, summaries offered after a large one.", "event"),
		poolSize: desc("ipam_pool_size_addresses", "Addresses of the pool held by all hosts (reserved ones excluded).", "pool"),
		poolUsed: desc("ipam_pool_used_addresses", "Addresses of the pool in use on all hosts.", "pool"),
		poolFree: desc("ipam_pool_free_addresses", "Addresses of the pool free on all hosts.", "pool"),
		poolLocal: desc("ipam_pool_local_addresses",
			"This host's share of the pool: owned, used and free addresses, and its reserve (free addresses held ahead of need).", "pool", "state"),
		ipamProblems: desc("ipam_problems", "Conflicts and range mismatches the allocator sees (weavego status lists them)."),
		dnsForwarded: desc("dns_forwarded_total", "Requests answered with an upstream resolver's reply, fresh or cached."),
		dnsCached:    desc("dns_cached_total", "Requests answered with an upstream resolver's reply from the cache (within its TTL)."),
		dnsUpstreamErr: desc("dns_upstream_failures_total",
			"Tries of one upstream resolver that failed: no answer in time, a network error, SERVFAIL or REFUSED."),
		dnsStrangers:  desc("dns_refused_strangers_total", "Requests refused because their source is in no served subnet."),
		dnsOverBudget: desc("dns_refused_over_budget_total", "Forwards refused because the client used up its budget."),
		dnsThrottled: desc("dns_dropped_over_rate_total",
			"Requests dropped unanswered because their network, or the host, was over its answer rate (DNS_ANSWER_RATE)."),
		dnsConnsRefused: desc("dns_tcp_refused_total",
			"TCP connections closed at once because their client, or the listener, had as many open as it may."),
		fdb:   desc("datapath_fdb_entries", "FDB entries kept on the VXLAN devices (remote MACs and flood VTEPs)."),
		neigh: desc("datapath_neighbour_entries", "Neighbour entries kept on the VXLAN devices (remote addresses)."),
		firewall: desc("firewall_dropped_packets_total",
			"Packets weavego's input rules dropped, by rule: from-container (to the host, other than DNS), "+
				"vxlan-non-member (VXLAN no member sent: from an address that is no member, or to one other than "+
				"this host's underlay address).", "rule"),
	}
}

func (d *descs) all() []*prometheus.Desc {
	return []*prometheus.Desc{d.build, d.peers, d.entries, d.tombstones, d.rejected, d.merges, d.gossipQueued,
		d.gossipSent, d.gossipBytes, d.gossipDecodeErr, d.gossipPruned, d.poolSize, d.poolUsed, d.poolFree,
		d.poolLocal, d.ipamProblems, d.dnsForwarded, d.dnsCached, d.dnsUpstreamErr, d.dnsStrangers, d.dnsOverBudget, d.fdb,
		d.neigh, d.firewall, d.gossipRefused, d.syncEvents, d.dnsThrottled, d.dnsConnsRefused}
}
