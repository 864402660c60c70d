package datapath

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/weavego/weavego/internal/nsrun"
)

// DefaultNSDir is where the namespaces of the networks are pinned when
// Config.NSDir is empty.
const DefaultNSDir = "/run/weavego/netns"

// netNS is the open namespace of one network: a handle of the namespace
// and a netlink handle bound to it. Both hold the namespace alive.
type netNS struct {
	ns    netns.NsHandle
	nl    netlinkOps
	close func()
}

func (n *netNS) release() {
	n.close()
	n.ns.Close()
}

// NamespacePath is the file on which the namespace of network id is pinned,
// under dir (DefaultNSDir when empty).
func NamespacePath(dir, id string) string {
	if dir == "" {
		dir = DefaultNSDir
	}
	return filepath.Join(dir, id)
}

func (m *Manager) nsPath(id string) string { return NamespacePath(m.nsDir, id) }

// netOf returns the open namespace of network id, opening its pin, or
// creating and pinning a new namespace when create is set. Without create,
// a network with no namespace is (nil, nil). mu is held.
func (m *Manager) netOf(id string, create bool) (*netNS, error) {
	if n := m.nets[id]; n != nil {
		return n, nil
	}
	path := m.nsPath(id)
	ns, err := nsrun.Open(path)
	if err != nil && (errors.Is(err, os.ErrNotExist) || errors.Is(err, nsrun.ErrNotPinned)) {
		if !create {
			return nil, nil
		}
		if err := os.MkdirAll(m.nsDir, 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", m.nsDir, err)
		}
		if err := nsrun.Create(path, m.setupNS); err != nil {
			return nil, fmt.Errorf("network %s: %w", id, err)
		}
		m.log.Debug("network namespace created", "network", id, "path", path)
		ns, err = nsrun.Open(path)
	}
	if err != nil {
		return nil, fmt.Errorf("network %s: %w", id, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("netlink in the namespace of network %s: %w", id, err)
	}
	n := &netNS{ns: ns, nl: h, close: h.Close}
	if err := upLoopback(h); err != nil {
		n.release()
		return nil, fmt.Errorf("network %s: %w", id, err)
	}
	m.nets[id] = n
	return n, nil
}

// setupNS runs inside a new namespace. Bridged frames need not visit the
// IP hooks there: nothing in it filters, so br_netfilter would only cost
// time. Best effort: the sysctl is absent without br_netfilter, and
// read-only where /proc/sys is.
func (m *Manager) setupNS() error {
	for _, f := range []string{"/proc/sys/net/bridge/bridge-nf-call-iptables", "/proc/sys/net/bridge/bridge-nf-call-ip6tables",
		"/proc/sys/net/bridge/bridge-nf-call-arptables"} {
		if err := os.WriteFile(f, []byte("0"), 0o644); err != nil && !errors.Is(err, os.ErrNotExist) {
			m.log.Debug("cannot turn off br_netfilter in a network namespace", "file", f, "err", err)
		}
	}
	return nil
}

func upLoopback(h *netlink.Handle) error {
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		return fmt.Errorf("set lo up: %w", err)
	}
	return nil
}

// Repin pins again the namespaces of the networks this Manager holds open
// whose pins went away (see nsrun.Pin): the namespace lives while a handle
// or socket holds it, and the pin lets the next process find it. Cheap when
// nothing is missing; call it periodically.
func (m *Manager) Repin() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for id, n := range m.nets {
		path := m.nsPath(id)
		if pinned, err := nsrun.IsPinned(path); err == nil && pinned {
			continue
		}
		if err := os.MkdirAll(m.nsDir, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", m.nsDir, err)
		}
		if err := nsrun.Pin(n.ns, path); err != nil {
			errs = append(errs, fmt.Errorf("network %s: %w", id, err))
			continue
		}
		m.log.Info("pinned the namespace of a network again", "network", id, "path", path)
	}
	return errors.Join(errs...)
}

// dropNet closes the open namespace of id and removes its pin; the kernel
// frees the namespace once nothing else (a socket in it) holds it. mu is
// held.
func (m *Manager) dropNet(id string) error {
	if n := m.nets[id]; n != nil {
		n.release()
		delete(m.nets, id)
	}
	// What was written into the namespace goes with it: a new namespace
	// of id gets its direct filter written again.
	delete(m.directFilters, id)
	delete(m.paths, id)
	return nsrun.Remove(m.nsPath(id))
}

// pinnedIDs lists the networks whose namespace is pinned in nsDir; files
// left without a namespace (the mount went away) are listed in stale.
func (m *Manager) pinnedIDs() (ids, stale []string, err error) {
	entries, err := os.ReadDir(m.nsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("list network namespaces: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		pinned, err := nsrun.IsPinned(filepath.Join(m.nsDir, e.Name()))
		switch {
		case err != nil:
			return nil, nil, err
		case pinned:
			ids = append(ids, e.Name())
		default:
			stale = append(stale, e.Name())
		}
	}
	return ids, stale, nil
}

// hostBridgeIDs lists the networks whose bridge is in the host namespace:
// networks of an earlier weavego, not yet moved into their namespace.
func (m *Manager) hostBridgeIDs() ([]string, error) {
	links, err := m.nl.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	var ids []string
	for _, l := range links {
		if a := l.Attrs(); isBridge(l) && len(a.Name) > len(BridgePrefix) && a.Name[:len(BridgePrefix)] == BridgePrefix {
			ids = append(ids, networkIDFromBridge(a.Name, a.Alias))
		}
	}
	return ids, nil
}

func isBridge(l netlink.Link) bool { _, ok := l.(*netlink.Bridge); return ok }

// sortedUnique sorts ids and drops duplicates.
func sortedUnique(ids []string) []string {
	slices.Sort(ids)
	return slices.Compact(ids)
}
