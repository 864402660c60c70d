package reconcile

import (
	"github.com/weavego/weavego/datapath"
)

// HostRoutes is the agent's view of this host's own addresses and routes
// (outside weavego's devices).
type HostRoutes interface {
	HostRoutes() ([]datapath.HostRoute, error)
}

// hostCheck refuses, on this host, networks of the cluster whose subnet
// overlaps the host's own addresses or routes: creating them would shadow
// a route the host depends on (the cloud metadata service, the underlay,
// a VPN). It reads the routes at most once per pass.
type hostCheck struct {
	a      *Agent
	routes []datapath.HostRoute
	read   bool
}

// refuses returns the host route a network defined elsewhere overlaps.
func (c *hostCheck) refuses(def NetDef) (datapath.HostRoute, bool) {
	if c.a.hostRoutes == nil {
		return datapath.HostRoute{}, false
	}
	if !c.read {
		c.read = true
		var err error
		if c.routes, err = c.a.hostRoutes.HostRoutes(); err != nil {
			c.a.log.Warn("list this host's routes; networks are created without the overlap check", "err", err)
		}
	}
	for _, r := range c.routes {
		if r.Prefix.Overlaps(def.Subnet) {
			return r, true
		}
	}
	return datapath.HostRoute{}, false
}
