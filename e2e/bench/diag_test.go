//go:build linux

package bench

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weavego/weavego/datapath"
	"github.com/weavego/weavego/e2e"
)

// benchDiag holds what diagnose found on h1, for the analysis.
type benchDiag struct {
	// linkDiffs lists, per pair of devices compared (weavego's against the hand-built one), the attributes
	// that differ; an empty list means identical in every attribute compared.
	linkDiffs map[string][]string
	// facts are one-line observations (sysctls, firewall rules, conntrack).
	facts []string
}

// benchIgnoredAttrs are identity attributes that differ between any two devices.
var benchIgnoredAttrs = []string{"ifindex", "ifname", "address", "broadcast", "link_index", "link", "master", "id",
	"local", "port", "operstate", "flags", "link_netnsid", "parentbus", "parentdev", "bridge_id", "root_id",
	"designated_root", "root_port", "root_path_cost", "hello_timer", "tcn_timer", "topology_change_timer",
	"gc_timer", "mcast_query", "altnames", "min_mtu", "max_mtu", "group_addr", "no_linklocal_learn",
	"forward_delay_timer", "message_age_timer", "hold_timer", "config_pending", "topology_change_ack"}

// benchLinkAttrs returns the flattened `ip -d -j link show dev` attributes of dev in namespace ns.
func benchLinkAttrs(ns, dev string) (map[string]string, error) {
	out, err := e2e.Run(time.Minute, "nsenter", "--net="+ns, "--", "ip", "-d", "-j", "link", "show", "dev", dev)
	if err != nil {
		return nil, err
	}
	var v []map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil || len(v) != 1 {
		return nil, fmt.Errorf("ip -j link show %s: %v", dev, err)
	}
	flat := map[string]string{}
	var walk func(prefix string, x any)
	walk = func(prefix string, x any) {
		switch x := x.(type) {
		case map[string]any:
			for k, vv := range x {
				if !slices.Contains(benchIgnoredAttrs, k) {
					walk(strings.TrimPrefix(prefix+"."+k, "."), vv)
				}
			}
		default:
			flat[prefix] = fmt.Sprint(x)
		}
	}
	walk("", v[0])
	return flat, nil
}

func benchDiffAttrs(ns1, dev1, ns2, dev2 string) ([]string, error) {
	a, err := benchLinkAttrs(ns1, dev1)
	if err != nil {
		return nil, err
	}
	h, err := benchLinkAttrs(ns2, dev2)
	if err != nil {
		return nil, err
	}
	var diffs []string
	for k, v := range a {
		if h[k] != v {
			diffs = append(diffs, fmt.Sprintf("%s: weavego %s, hand %s", k, v, benchOr(h[k], "absent")))
		}
	}
	for k, v := range h {
		if _, ok := a[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: weavego absent, hand %s", k, v))
		}
	}
	slices.Sort(diffs)
	return diffs, nil
}

func benchOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// weavegoDevices finds on h1 the VXLAN device, bridge and a host-side veth of weavego network benchwg, by the
// names the datapath gives them.
func (b *bench) weavegoDevices() (vx, br, veth string, err error) {
	h1 := b.c.Host(0)
	id, err := h1.Docker("network", "inspect", "-f", "{{.Id}}", benchWeaveNet)
	if err != nil {
		return "", "", "", err
	}
	id = strings.TrimSpace(id)
	vx, br = datapath.VXLANName(id), datapath.BridgeName(id)
	j, err := h1.ExecDev(br, "ip", "-d", "-j", "link", "show", "master", br, "type", "veth")
	if err != nil {
		return "", "", "", err
	}
	var links []struct {
		Name string `json:"ifname"`
	}
	if err := json.Unmarshal([]byte(j), &links); err != nil {
		return "", "", "", err
	}
	if len(links) == 0 {
		return "", "", "", fmt.Errorf("no veth on weavego bridge %s of %s on h1", br, benchWeaveNet)
	}
	return vx, br, links[0].Name, nil
}

// diagnose compares weavego's devices with the hand-built ones on h1 and notes the netfilter state that
// bridged packets meet, in h1's namespace and in the overlay's own namespace.
func (b *bench) diagnose(t *testing.T) *benchDiag {
	d := &benchDiag{linkDiffs: map[string][]string{}}
	h1 := b.c.Host(0)
	if b.paths[benchWeavego] != nil && b.paths[benchHand] != nil {
		vx, br, veth, err := b.weavegoDevices()
		if err != nil {
			t.Errorf("bench: %v", err)
		} else {
			wns, hns := h1.DevNS(br), b.handNetNS[0]
			pairs := []struct{ label, ns1, dev1, ns2, dev2 string }{
				{"VXLAN device", wns, vx, hns, "hvx0"},
				{"bridge", wns, br, hns, "hvbr0"},
				{"host-side veth", wns, veth, hns, "hvv0"},
				{"container eth0", b.weaveNS[0], "eth0", b.paths[benchHand].clientNS, "eth0"},
			}
			for _, p := range pairs {
				diffs, err := benchDiffAttrs(p.ns1, p.dev1, p.ns2, p.dev2)
				if err != nil {
					t.Errorf("bench: compare %s: %v", p.label, err)
					continue
				}
				d.linkDiffs[fmt.Sprintf("%s (%s vs %s)", p.label, p.dev1, p.dev2)] = diffs
			}
		}
	}
	sysctl := func(ns, name string) string {
		out, err := e2e.Run(time.Minute, "nsenter", "--net="+ns, "--", "cat", "/proc/sys/"+strings.ReplaceAll(name, ".", "/"))
		if err != nil {
			return "absent"
		}
		return strings.TrimSpace(out)
	}
	nss := map[string]string{"h1's namespace": h1.NSPath(), "the hand VXLAN's namespace": b.handNetNS[0]}
	if b.weaveNS[0] != "" {
		nss["weavego's container on h1"] = b.weaveNS[0]
	}
	if vx, _, _, err := b.weavegoDevices(); err == nil {
		nss["weavego's network namespace"] = h1.DevNS(vx)
	}
	if ovl, _ := filepath.Glob(filepath.Join(h1.ExecRoot, "netns", "1-*")); len(ovl) > 0 {
		nss["the overlay's namespace "+filepath.Base(ovl[0])] = ovl[0]
	}
	for label, ns := range nss {
		d.facts = append(d.facts, fmt.Sprintf("In %s: bridge-nf-call-iptables=%s, nf_conntrack_count=%s, %s.", label,
			sysctl(ns, "net.bridge.bridge-nf-call-iptables"), sysctl(ns, "net.netfilter.nf_conntrack_count"), benchRuleCount(ns)))
	}
	if out, err := h1.Exec("iptables", "-L", "FORWARD", "-n", "-v", "--line-numbers"); err == nil {
		lines := strings.Split(strings.TrimSpace(out), "\n")
		d.facts = append(d.facts, "h1 FORWARD chain (first rules): `"+strings.Join(lines[:min(6, len(lines))], "` / `")+"`")
	}
	if _, err := e2e.Run(10*time.Second, "ethtool", "--version"); err != nil {
		d.facts = append(d.facts, "ethtool is not installed, so offload flags (`ethtool -k`) could not be compared; /sys has no offload flags. The comparison above covers what `ip -d link` shows: GSO/GRO/TSO sizes and segments, queues, qdisc and every VXLAN and bridge option.")
	}
	return d
}

// benchRuleCount counts nftables rules in a namespace.
func benchRuleCount(ns string) string {
	out, err := e2e.Run(time.Minute, "nsenter", "--net="+ns, "--", "nft", "-a", "list", "ruleset")
	if err != nil {
		return "nftables ruleset not readable"
	}
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "# handle") && !strings.Contains(line, "chain ") && !strings.Contains(line, "table ") {
			n++
		}
	}
	return fmt.Sprintf("%d nftables rules", n)
}
