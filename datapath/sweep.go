package datapath

import (
	"fmt"
	"net"
	"strings"

	"github.com/vishvananda/netlink"
)

// SweepEndpoints deletes the veth pairs that no known endpoint claims: in
// the namespace of each known network, every veth named as a host end
// (VethNames) whose endpoint is not among endpoints; in the host
// namespace, every veth named as a container end that is down (not in use
// by a container, where Docker would have renamed it) whose endpoint is not
// among endpoints. Such pairs are left by a background delete
// (DeleteEndpointAsync) that the process did not live to run, or that
// failed, and by a crash between creating a pair and recording its
// endpoint. Call it at start, after the networks are restored and before
// endpoints are created. Links with other names are never touched. It is
// idempotent.
func (m *Manager) SweepEndpoints(networks, endpoints []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	keep := map[string]bool{}
	for _, id := range endpoints {
		hostIf, containerIf := VethNames(id)
		keep[hostIf], keep[containerIf] = true, true
	}
	var errs []error
	for _, id := range networks {
		ns, err := m.netOf(id, false)
		if err != nil || ns == nil {
			errs = append(errs, err)
			continue
		}
		stray := func(l netlink.Link) bool { return isVethEnd(l, HostVethPrefix) && !keep[l.Attrs().Name] }
		if err := m.sweepLinks(ns.nl, id, stray); err != nil {
			errs = append(errs, fmt.Errorf("network %s: %w", id, err))
		}
	}
	stray := func(l netlink.Link) bool {
		return isVethEnd(l, ContVethPrefix) && l.Attrs().Flags&net.FlagUp == 0 && !keep[l.Attrs().Name]
	}
	errs = append(errs, m.sweepLinks(m.nl, "", stray))
	if err := joinErrs(errs); err != nil {
		return fmt.Errorf("sweep veth pairs of unknown endpoints: %w", err)
	}
	return nil
}

// sweepLinks deletes the links of nl for which stray holds; networkID,
// empty for the host namespace, is for the log.
func (m *Manager) sweepLinks(nl netlinkOps, networkID string, stray func(netlink.Link) bool) error {
	links, err := nl.LinkList()
	if err != nil {
		return fmt.Errorf("list links: %w", err)
	}
	var errs []error
	for _, l := range links {
		if !stray(l) {
			continue
		}
		name := l.Attrs().Name
		if err := nl.LinkDel(l); err != nil {
			errs = append(errs, fmt.Errorf("delete stray veth %s: %w", name, err))
			continue
		}
		m.log.Info("deleted the veth pair of an unknown endpoint", "link", name, "network", networkID)
	}
	return joinErrs(errs)
}

// isVethEnd tells whether l is a veth whose name VethNames gives one end
// of some endpoint's pair, the end that prefix names.
func isVethEnd(l netlink.Link, prefix string) bool {
	if _, ok := l.(*netlink.Veth); !ok {
		return false
	}
	short, ok := strings.CutPrefix(l.Attrs().Name, prefix)
	return ok && short != "" && len(short) <= maxIDChars
}
