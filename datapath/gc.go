package datapath

import (
	"fmt"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
)

// Leftover is a weavego-looking network in the kernel that no known network
// claims.
type Leftover struct {
	ID string
	// Why is empty when the network may be removed, else why it must stay.
	Why string
}

// Leftovers sorts the networks in the kernel that are not known networks.
// A namespace pinned in the Manager's own directory is weavego's; it may be
// removed if no container is attached to it (no veth port on its bridge),
// and a pin file with no namespace left may always go. A bridge named like
// weavego's in the host namespace (an earlier weavego's design) may be
// removed only if weavego provably created it (its alias, set at creation, is
// the full network ID that gives its name; another program's "wgb-" bridge
// has no such alias) and no container is attached to it. Everything else
// stays, with the reason.
func (m *Manager) Leftovers(known []string) ([]Leftover, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	pinned, stale, err := m.pinnedIDs()
	if err != nil {
		return nil, err
	}
	var out []Leftover
	for _, id := range stale {
		if !slices.Contains(known, id) {
			out = append(out, Leftover{ID: id})
		}
	}
	for _, id := range pinned {
		if slices.Contains(known, id) {
			continue
		}
		lo := Leftover{ID: id}
		if n, err := m.attached(id); err != nil {
			lo.Why = err.Error()
		} else if n > 0 {
			lo.Why = fmt.Sprintf("%d container interface(s) still attached", n)
		}
		out = append(out, lo)
	}
	host, err := hostLeftovers(m.nl, known)
	return append(out, host...), err
}

// attached counts the veths on the bridge of network id in its namespace.
func (m *Manager) attached(id string) (int, error) {
	ns, err := m.netOf(id, false)
	if err != nil || ns == nil {
		return 0, err
	}
	br, err := linkByName(ns.nl, BridgeName(id))
	if err != nil || br == nil {
		return 0, err
	}
	ports, err := vethPorts(ns.nl, br)
	return len(ports), err
}

// hostLeftovers sorts the "wgb-" bridges of the host namespace that are not
// bridges of known networks.
func hostLeftovers(nl netlinkOps, known []string) ([]Leftover, error) {
	links, err := nl.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	keep := map[string]bool{}
	for _, id := range known {
		keep[BridgeName(id)] = true
	}
	ports := map[int]int{} // bridge index -> veth ports
	for _, l := range links {
		if _, ok := l.(*netlink.Veth); ok && l.Attrs().MasterIndex != 0 {
			ports[l.Attrs().MasterIndex]++
		}
	}
	var out []Leftover
	for _, l := range links {
		a := l.Attrs()
		if !isBridge(l) || !strings.HasPrefix(a.Name, BridgePrefix) || keep[a.Name] {
			continue
		}
		lo := Leftover{ID: networkIDFromBridge(a.Name, a.Alias)}
		switch {
		case !marked(a):
			lo.Why = "not marked as weavego's (its alias is not the network ID): another program's bridge?"
		case ports[a.Index] > 0:
			lo.Why = fmt.Sprintf("%d container interface(s) still attached", ports[a.Index])
		}
		out = append(out, lo)
	}
	return out, nil
}

// marked tells whether weavego created the bridge: its alias is the full
// network ID from which its name is made.
func marked(a *netlink.LinkAttrs) bool {
	return len(a.Alias) > maxIDChars && BridgeName(a.Alias) == a.Name
}
