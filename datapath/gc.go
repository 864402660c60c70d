package datapath

import (
	"fmt"
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

// Leftovers sorts the bridges named like weavego's that are not the bridge
// of a known network: one may be removed only if weavego provably created it
// (its alias, set at creation, is the full network ID that gives its name;
// another program's "wgb-" bridge has no such alias) and no container is
// attached to it (no veth port). Everything else stays, with the reason.
func (m *Manager) Leftovers(known []string) ([]Leftover, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	links, err := m.nl.LinkList()
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
		if _, ok := l.(*netlink.Bridge); !ok || !strings.HasPrefix(a.Name, BridgePrefix) || keep[a.Name] {
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
