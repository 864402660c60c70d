//go:build linux

package bench

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/weavego/weavego/e2e"
)

// Kernel inspection of the benchmarks, in one place: where weavego keeps a network's devices may change (a
// namespace per network), and these are the only functions that then need to be pointed elsewhere.

// benchUnderlayNS is the network namespace (a path) whose packets leave h for the underlay: VXLAN and gossip.
func benchUnderlayNS(h *e2e.Host) string { return h.NSPath() }

// benchDatapathEntries counts the FDB entries with a remote VTEP (dst) on the VXLAN device of network on h and
// the permanent neighbour entries on its bridge's side (all neighbour entries of the VXLAN device).
func benchDatapathEntries(h *e2e.Host, network string) (fdb, neigh int, err error) {
	id, err := h.Docker("network", "inspect", "--format", "{{.Id}}", network)
	if err != nil {
		return 0, 0, err
	}
	dev := "wgx-" + strings.TrimSpace(id)[:11] // as h.VXLANDevice, for a network with no explicit gateway
	ns := h.DevNS(dev)                         // the network's own namespace
	out, err := e2e.Run(30*time.Second, "nsenter", "--net="+ns, "--", "bridge", "fdb", "show", "dev", dev)
	if err != nil {
		return 0, 0, err
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, " dst ") && !strings.HasPrefix(l, "00:00:00:00:00:00") {
			fdb++
		}
	}
	out, err = e2e.Run(30*time.Second, "nsenter", "--net="+ns, "--", "ip", "neigh", "show", "dev", dev)
	if err != nil {
		return 0, 0, err
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimSpace(l) != "" {
			neigh++
		}
	}
	return fdb, neigh, nil
}

// benchCounter counts the packets and bytes a host's namespace sends that match any of a few nftables rules
// (on the underlay: VXLAN or gossip), with an nftables table of its own in that namespace.
type benchCounter struct {
	ns, table string
}

// newBenchCounter installs rules (each ending in "counter") in a postrouting chain of a new table in the
// namespace at ns (a path); close removes it.
func newBenchCounter(ns, table string, rules ...string) (*benchCounter, error) {
	c := &benchCounter{ns: ns, table: table}
	script := fmt.Sprintf("table inet %s {\n chain out {\n  type filter hook postrouting priority 0; policy accept;\n  %s\n }\n}\n",
		table, strings.Join(rules, "\n  "))
	if _, err := e2e.Run(30*time.Second, "nsenter", "--net="+ns, "--", "sh", "-c", "printf '%s' \"$0\" | nft -f -", script); err != nil {
		return nil, fmt.Errorf("nft counter in %s: %w", ns, err)
	}
	return c, nil
}

// read returns the packets and bytes counted so far by all the rules together.
func (c *benchCounter) read() (pkts, bytes int64, err error) {
	out, err := e2e.Run(30*time.Second, "nsenter", "--net="+c.ns, "--", "nft", "list", "chain", "inet", c.table, "out")
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(out)
	for i := 0; i+4 < len(f); i++ {
		if f[i] == "counter" && f[i+1] == "packets" && f[i+3] == "bytes" {
			p, _ := strconv.ParseInt(f[i+2], 10, 64)
			b, _ := strconv.ParseInt(f[i+4], 10, 64)
			pkts, bytes = pkts+p, bytes+b
		}
	}
	return pkts, bytes, nil
}

func (c *benchCounter) close() {
	_, _ = e2e.Run(30*time.Second, "nsenter", "--net="+c.ns, "--", "nft", "delete", "table", "inet", c.table)
}
