package client

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/weavego/weavego/mesh"
	"github.com/weavego/weavego/reconcile"
)

// listAll is the most peers, and hosts of a network, the whole status
// lists one by one; beyond it, it summarises them and lists the peers that
// are not alive, and `weavego status peers` (or --json) lists every one.
const listAll = 20

// renderPeers writes the peer table: every peer when there are at most
// listAll or when every one is asked for, else a summary by state and the
// peers that are not alive (with this host).
func renderPeers(w io.Writer, peers []reconcile.PeerStatus, every bool) {
	if !every && len(peers) > listAll {
		fmt.Fprintln(w, peerSummary(peers))
		peers = slices.DeleteFunc(slices.Clone(peers), func(p reconcile.PeerStatus) bool {
			return p.State == mesh.StateAlive && !p.Local
		})
		if len(peers) > listAll {
			peers = peers[:listAll]
		}
	}
	fmt.Fprintf(w, "PEER\tADDRESS\tSTATE\tENDPOINTS\n")
	for _, p := range peers {
		me := ""
		if p.Local {
			me = " (this host)"
		}
		fmt.Fprintf(w, "%s%s\t%s\t%s\t%d\n", p.Name, me, p.Addr, p.State, p.Endpoints)
	}
}

// peerSummary counts peers and endpoints by state, in one line.
func peerSummary(peers []reconcile.PeerStatus) string {
	count := map[string]int{}
	endpoints := 0
	for _, p := range peers {
		count[p.State]++
		endpoints += p.Endpoints
	}
	var parts []string
	for _, s := range []string{mesh.StateAlive, mesh.StateSuspect, mesh.StateDead, mesh.StateLeft} {
		if count[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", count[s], s))
		}
	}
	return fmt.Sprintf("%d peers (%s), %d endpoints; below, this host and the first %d peers not alive; "+
		"every peer: weavego status peers", len(peers), strings.Join(parts, ", "), endpoints, listAll)
}

// hostList is a network's hosts as the network table shows them: the
// names while there are at most listAll, else their number.
func hostList(hosts []string, every bool) string {
	if every || len(hosts) <= listAll {
		return strings.Join(hosts, ",")
	}
	return fmt.Sprintf("%d hosts", len(hosts))
}
