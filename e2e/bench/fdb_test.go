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

// benchFDB reads the FDB of the VXLAN devices in one host's network namespaces (one per weavego network)
// through netlink handles bound to them, so it can be polled every few milliseconds without starting a
// process or switching the test's threads between namespaces.
type benchFDB struct {
	h       *e2e.Host
	handles map[string]*netlink.Handle // by namespace path
}

func openBenchFDB(h *e2e.Host) (*benchFDB, error) {
	return &benchFDB{h: h, handles: map[string]*netlink.Handle{}}, nil
}

func (f *benchFDB) close() {
	for _, h := range f.handles {
		h.Close()
	}
}

// handle returns a netlink handle in the namespace at path.
func (f *benchFDB) handle(path string) (*netlink.Handle, error) {
	if h := f.handles[path]; h != nil {
		return h, nil
	}
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("%s: open namespace: %w", f.h.Name, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("%s: netlink handle: %w", f.h.Name, err)
	}
	f.handles[path] = h
	return h, nil
}

// entries returns the MAC -> remote VTEP of every unicast FDB entry of the host's VXLAN devices whose VTEP is
// in vteps.
func (f *benchFDB) entries(vteps map[string]bool) (map[string]string, error) {
	nss, err := f.h.NetworkNamespaces()
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, path := range nss {
		h, err := f.handle(path)
		if err != nil {
			return nil, err
		}
		if err := f.read(h, vteps, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// read adds the entries of the VXLAN devices that h sees to out.
func (f *benchFDB) read(h *netlink.Handle, vteps map[string]bool, out map[string]string) error {
	links, err := h.LinkList()
	if err != nil {
		return fmt.Errorf("%s: list links: %w", f.h.Name, err)
	}
	for _, l := range links {
		if l.Type() != "vxlan" {
			continue
		}
		neighs, err := h.NeighList(l.Attrs().Index, syscall.AF_BRIDGE)
		if err != nil {
			return fmt.Errorf("%s: fdb of %s: %w", f.h.Name, l.Attrs().Name, err)
		}
		for _, n := range neighs {
			mac := n.HardwareAddr.String()
			if n.IP == nil || !vteps[n.IP.String()] || mac == "00:00:00:00:00:00" || mac == "" {
				continue
			}
			out[mac] = n.IP.String()
		}
	}
	return nil
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
