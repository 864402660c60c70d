//go:build linux

package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// leftovers lists what weavego may leave in h's namespace: its links (the WireGuard device of encrypted networks
// among them), its forward chain and its input table, and the rule and routing table that send encrypted VXLAN
// into the WireGuard device.
func leftovers(h *Host) ([]string, error) {
	var out []string
	links, err := h.Links()
	if err != nil {
		return nil, err
	}
	for _, l := range links {
		for _, p := range []string{"wgb-", "wgx-", "wgv-"} {
			if strings.HasPrefix(l, p) {
				out = append(out, "link "+l)
			}
		}
		if l == wireGuardDevice {
			out = append(out, "WireGuard device "+l)
		}
	}
	routing, err := tunnelRouting(h)
	if err != nil {
		return nil, err
	}
	out = append(out, routing...)
	rules, err := h.Exec("nft", "list", "ruleset")
	if err != nil {
		return nil, err
	}
	for _, s := range []string{"WEAVEGO-FORWARD", "weavego-input"} {
		if strings.Contains(rules, s) {
			out = append(out, "nftables "+s)
		}
	}
	return out, nil
}

// TestFaultsUninstall: `docker rm -f` of the last container, `docker network rm`, then disabling and removing
// the plugin at once (as `make uninstall` right after a cleanup does) leaves no link, chain, jump or table.
func TestFaultsUninstall(t *testing.T) {
	RequirePlugin(t)
	c := NewCluster(t, ClusterOptions{Hosts: 1})
	s := &uninstall{h: c.Host(0)}
	runSteps(t, []step{
		{"Install", s.install},
		{"RemoveAllAtOnce", s.removeAll},
		{"NothingLeft", s.nothingLeft},
	}, "Install", "RemoveAllAtOnce")
}

// uninstall is the fixture of TestFaultsUninstall: one host, and when the removal started.
type uninstall struct {
	h     *Host
	start time.Time
}

// install puts the plugin, net1 and a container c1 on the host.
func (s *uninstall) install(t *testing.T) {
	if err := s.h.InstallPlugin(nil); err != nil {
		t.Fatal(err)
	}
	s.h.MustDocker(t, append(append([]string{"network", "create"}, netArgs...), "--subnet", "10.52.0.0/24", "net1")...)
	s.h.MustDocker(t, "run", "-d", "--network", "net1", "--name", "c1", BusyboxImage, "sleep", "3600")
	// The WireGuard device and its routing are up at start, with or without an encrypted network: check they are
	// there, so that their absence afterwards proves something.
	Eventually(t, time.Minute, func() error {
		links, err := s.h.Links()
		if err != nil {
			return err
		}
		routing, err := tunnelRouting(s.h)
		if err != nil {
			return err
		}
		if !slices.Contains(links, wireGuardDevice) || len(routing) == 0 {
			return fmt.Errorf("the plugin runs, but the WireGuard device (links %v) or its routing (%v) is missing", links, routing)
		}
		return nil
	})
}

// removeAll removes c1, net1 and the plugin one right after the other.
func (s *uninstall) removeAll(t *testing.T) {
	s.start = time.Now()
	s.h.MustDocker(t, "rm", "-f", "c1")
	s.h.MustDocker(t, "network", "rm", "net1")
	s.h.MustDocker(t, "plugin", "disable", "-f", PluginName)
	s.h.MustDocker(t, "plugin", "rm", "-f", PluginName)
}

// nothingLeft waits until no weavego link, chain or table is left on the host.
func (s *uninstall) nothingLeft(t *testing.T) {
	var left []string
	d := measure(t, s.start, 30*time.Second, func() error {
		var err error
		left, err = leftovers(s.h)
		if err == nil && len(left) > 0 {
			return errLeft(left)
		}
		return err
	})
	t.Logf("rm -f, network rm, plugin disable and rm at once: nothing of weavego left after %s", faultFigure(d))
	reportFault(t, faultRow{Case: "uninstall right after removing the last container and network",
		Bound: "no weavego link, WireGuard device, forward chain, jump, input table, rule or route left", Measured: "nothing left after " + faultFigure(d),
		Pass: len(left) == 0})
}

// wireGuardDevice is the plugin's default WireGuard device, and tunnelTable the priority of its rule and its
// routing table (package tunnel's defaults).
const (
	wireGuardDevice = "weavego-wg"
	tunnelTable     = "30567"
)

// tunnelRouting lists the rules and routes of h's namespace that send encrypted VXLAN into the WireGuard device.
func tunnelRouting(h *Host) ([]string, error) {
	var out []string
	for _, fam := range []string{"-4", "-6"} {
		rules, err := h.Exec("ip", fam, "rule", "show")
		if err != nil {
			return nil, err
		}
		for _, l := range strings.Split(rules, "\n") {
			if strings.HasPrefix(l, tunnelTable+":") || strings.Contains(l, "lookup "+tunnelTable) {
				out = append(out, "ip "+fam+" rule "+strings.TrimSpace(l))
			}
		}
		routes, err := h.Exec("ip", fam, "route", "show", "table", tunnelTable)
		if err != nil {
			return nil, err
		}
		for _, l := range strings.Split(strings.TrimSpace(routes), "\n") {
			if l != "" {
				out = append(out, "ip "+fam+" route table "+tunnelTable+" "+l)
			}
		}
	}
	return out, nil
}

type errLeft []string

func (e errLeft) Error() string { return "left behind: " + strings.Join(e, ", ") }
