package tunnel

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// families are the address families the routing covers: an underlay of
// either family.
var families = []struct {
	fam int
	any *net.IPNet
}{
	{netlink.FAMILY_V4, &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}},
	{netlink.FAMILY_V6, &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}},
}

// EnsureRouting makes UDP datagrams to vxlanPort take table RouteTable,
// which sends them into the device of index ifindex (0: no device now) and,
// failing that, to a blackhole. It is idempotent; the rule and the
// blackhole stay until RemoveRouting, also while no device exists.
func EnsureRouting(vxlanPort, ifindex int) error {
	var errs []error
	for _, f := range families {
		if err := ensureRule(f.fam, vxlanPort); err != nil {
			errs = append(errs, err)
		}
		bh := &netlink.Route{Family: f.fam, Dst: f.any, Table: RouteTable, Type: unix.RTN_BLACKHOLE, Priority: math.MaxUint32}
		if err := netlink.RouteReplace(bh); err != nil {
			errs = append(errs, fmt.Errorf("blackhole route of table %d: %w", RouteTable, err))
		}
		if ifindex == 0 {
			continue
		}
		r := &netlink.Route{Family: f.fam, Dst: f.any, Table: RouteTable, LinkIndex: ifindex, Scope: netlink.SCOPE_LINK}
		if err := netlink.RouteReplace(r); err != nil {
			errs = append(errs, fmt.Errorf("route of table %d into the WireGuard device: %w", RouteTable, err))
		}
	}
	return errors.Join(errs...)
}

func rule(fam, vxlanPort int) *netlink.Rule {
	r := netlink.NewRule()
	r.Family, r.Priority, r.Table = fam, RulePriority, RouteTable
	r.IPProto = unix.IPPROTO_UDP
	r.Dport = netlink.NewRulePortRange(uint16(vxlanPort), uint16(vxlanPort))
	return r
}

func ensureRule(fam, vxlanPort int) error {
	rules, err := netlink.RuleList(fam)
	if err != nil {
		return fmt.Errorf("list routing rules: %w", err)
	}
	for _, r := range rules {
		if r.Priority != RulePriority {
			continue
		}
		if r.Table == RouteTable && r.IPProto == unix.IPPROTO_UDP && r.Dport != nil &&
			r.Dport.Start == uint16(vxlanPort) && r.Dport.End == uint16(vxlanPort) {
			return nil
		}
		_ = netlink.RuleDel(&r) // ours, from another VXLAN port setting
	}
	if err := netlink.RuleAdd(rule(fam, vxlanPort)); err != nil {
		return fmt.Errorf("add routing rule for udp/%d: %w", vxlanPort, err)
	}
	return nil
}

// RemoveRouting removes the rule and the routes of RouteTable.
func RemoveRouting() error {
	var errs []error
	for _, f := range families {
		rules, err := netlink.RuleList(f.fam)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, r := range rules {
			if r.Priority == RulePriority && r.Table == RouteTable {
				errs = append(errs, netlink.RuleDel(&r))
			}
		}
		routes, err := netlink.RouteListFiltered(f.fam, &netlink.Route{Table: RouteTable}, netlink.RT_FILTER_TABLE)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, r := range routes {
			errs = append(errs, netlink.RouteDel(&r))
		}
	}
	return errors.Join(errs...)
}

// RemoveAll removes the device (kernel or a TUN left behind), the routing
// and the key stays: an uninstall removes the state directory.
func RemoveAll(device string) error {
	if device == "" {
		device = DefaultDevice
	}
	var errs []error
	if l, err := netlink.LinkByName(device); err == nil {
		errs = append(errs, netlink.LinkDel(l))
	}
	errs = append(errs, RemoveRouting())
	return errors.Join(errs...)
}

// looseRPFilter makes the reverse-path filter of the device loose: the
// inner source of a decrypted datagram is the peer's underlay address,
// which the main table routes through the underlay, and a strict filter
// would drop it. Best effort: /proc/sys may be read-only, and a host whose
// filter is off needs nothing.
func looseRPFilter(dev string, log *slog.Logger) {
	f := "/proc/sys/net/ipv4/conf/" + dev + "/rp_filter"
	if err := os.WriteFile(f, []byte("2"), 0o644); err != nil {
		log.Debug("cannot make the reverse-path filter of the WireGuard device loose", "err", err)
	}
}
