package reconcile

import (
	"fmt"
	"net/netip"
)

// maxWarned bounds the set of skipped records the agent remembers having
// warned about; past it the set starts afresh (and warns again).
const maxWarned = 1024

// peerAddrs maps each known peer to its underlay address, which is also
// its VTEP (the plugin advertises its VTEP to the mesh).
func (a *Agent) peerAddrs() map[string]netip.Addr {
	out := map[string]netip.Addr{}
	for _, p := range a.rep.Peers() {
		if p.Addr.IsValid() {
			out[p.Name] = p.Addr
		}
	}
	return out
}

// checkWriter requires vtep to be the address of owner, the host that wrote
// the record: a host may only point the others' tunnels at itself.
func (a *Agent) checkWriter(owner string, vtep netip.Addr, addrs map[string]netip.Addr) error {
	have, ok := addrs[owner]
	switch {
	case !ok:
		return fmt.Errorf("the address of host %q is not known", owner)
	case vtep.Unmap() != have:
		return fmt.Errorf("VTEP %s is not the address %s of host %q that wrote it", vtep, have, owner)
	}
	return FamilyMismatch(owner, have, a.cfg.VTEP)
}

// warnOnce logs msg at WARN the first time key is skipped for reason err,
// so that a bad record does not fill the log on every pass.
func (a *Agent) warnOnce(key, msg string, attrs ...any) {
	why := fmt.Sprint(attrs...)
	a.mu.Lock()
	seen := a.warned[key] == why
	if !seen {
		if len(a.warned) >= maxWarned {
			a.warned = map[string]string{}
		}
		a.warned[key] = why
	}
	a.mu.Unlock()
	if !seen {
		a.log.Warn(msg, attrs...)
	}
}
