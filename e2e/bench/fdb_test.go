//go:build linux

package bench

import (
	"fmt"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"github.com/weavego/weavego/e2e"
)

// benchFDB reads the FDB of the VXLAN devices in one host's namespace through a netlink handle bound to
// that namespace, so it can be polled every few milliseconds without starting a process or switching the
// test's threads between namespaces.
type benchFDB struct {
	h      *e2e.Host
	handle *netlink.Handle
}

func openBenchFDB(h *e2e.Host) (*benchFDB, error) {
	ns, err := netns.GetFromPath(h.NSPath())
	if err != nil {
		return nil, fmt.Errorf("%s: open namespace: %w", h.Name, err)
	}
	defer ns.Close()
	handle, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("%s: netlink handle: %w", h.Name, err)
	}
	return &benchFDB{h: h, handle: handle}, nil
}

func (f *benchFDB) close() { f.handle.Close() }

// entries returns the MAC -> remote VTEP of every unicast FDB entry of the host's VXLAN devices (the
// benchmark's own hvx0 excepted) whose VTEP is in vteps.
func (f *benchFDB) entries(vteps map[string]bool) (map[string]string, error) {
	links, err := f.handle.LinkList()
	if err != nil {
		return nil, fmt.Errorf("%s: list links: %w", f.h.Name, err)
	}
	out := map[string]string{}
	for _, l := range links {
		if l.Type() != "vxlan" || l.Attrs().Name == "hvx0" {
			continue
		}
		neighs, err := f.handle.NeighList(l.Attrs().Index, syscall.AF_BRIDGE)
		if err != nil {
			return nil, fmt.Errorf("%s: fdb of %s: %w", f.h.Name, l.Attrs().Name, err)
		}
		for _, n := range neighs {
			mac := n.HardwareAddr.String()
			if n.IP == nil || !vteps[n.IP.String()] || mac == "00:00:00:00:00:00" || mac == "" {
				continue
			}
			out[mac] = n.IP.String()
		}
	}
	return out, nil
}

// waitFDB polls every 5 ms until cond holds for the host's FDB, and returns when it first did.
func (f *benchFDB) waitFDB(vteps map[string]bool, within time.Duration, cond func(map[string]string) bool) (time.Time, error) {
	deadline := time.Now().Add(within)
	for {
		got, err := f.entries(vteps)
		now := time.Now()
		if err == nil && cond(got) {
			return now, nil
		}
		if now.After(deadline) {
			if err == nil {
				err = fmt.Errorf("%s: FDB condition not met after %s (%d entries)", f.h.Name, within, len(got))
			}
			return now, err
		}
		time.Sleep(5 * time.Millisecond)
	}
}
