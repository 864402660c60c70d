package driver

import (
	"fmt"
	"net/netip"

	"github.com/docker/go-plugins-helpers/network"

	"github.com/weavego/weavego/datapath"
	"github.com/weavego/weavego/pluginapi"
)

// containerIfPrefix names the interface inside the container (eth0, eth1, ...).
const containerIfPrefix = "eth"

// Sandboxes is the driver's view of containers' network namespaces.
type Sandboxes interface {
	// HasRoute reports whether the sandbox at key has a route to dst/32
	// (an IPv6 dst: /128).
	HasRoute(sandboxKey string, dst netip.Addr) (bool, error)
}

var _ Sandboxes = datapath.Sandboxes{}

// Join hands the endpoint's veth to Docker, which moves it into the container.
//
// The reply names no gateway: Docker then also attaches the container to
// docker_gwbridge for egress and published ports, as it does for its own
// overlay networks, and --internal networks get no such attachment. It adds
// a route to the DNS service address via this network's gateway, and one to
// the IPv6 service address via its IPv6 gateway, unless the container
// already has one (see serviceRoute), and names the interface in the
// container as CreateEndpoint was asked to (OptIfname).
func (d *Driver) Join(req *network.JoinRequest) (*pluginapi.JoinResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ep, err := d.endpointOn(req.NetworkID, req.EndpointID)
	if err != nil {
		return nil, err
	}
	route := d.serviceRoute(ep, req.SandboxKey, false)
	route6 := d.serviceRoute(ep, req.SandboxKey, true)
	ep.Joined, ep.SandboxKey, ep.ServiceRoute, ep.ServiceRoute6 = true, req.SandboxKey, route != nil, route6 != nil
	if err := d.store.Put(bucketEndpoints, ep.ID, ep); err != nil {
		return nil, fmt.Errorf("record join of endpoint %s: %w", ShortID(ep.ID), err)
	}
	d.log.Info("endpoint joined", "network", ShortID(ep.NetworkID), "endpoint", ShortID(ep.ID), "sandbox", req.SandboxKey,
		"dns_route", route != nil, "dns_route6", route6 != nil)
	d.reconciler.EndpointChanged(*ep, false)
	prefix := containerIfPrefix
	if n, ok := d.networks[ep.NetworkID]; ok {
		prefix = ifacePrefix(n)
	}
	resp := &pluginapi.JoinResponse{InterfaceName: pluginapi.InterfaceName{SrcName: ep.ContainerIf, DstName: ep.IfName,
		DstPrefix: prefix}}
	for _, r := range []*network.StaticRoute{route, route6} {
		if r != nil {
			resp.StaticRoutes = append(resp.StaticRoutes, r)
		}
	}
	return resp, nil
}

// serviceRoute is the route to DNS_ADDR/32 via the IPv4 gateway of ep's
// network (six: to DNS_ADDR6/128 via its IPv6 gateway), or nil when there
// is no such service address or gateway, or when the sandbox already has
// such a route: a container on two weavego networks must get it only once,
// or Docker fails the second Join with "file exists". The route leaves
// with the interface of the network that brought it: after that network is
// disconnected the container lacks the service address until it joins
// another weavego network (its gateways keep answering). d.mu is held.
//
// The sandbox itself is asked when it can be opened; otherwise the driver's
// records tell: another joined endpoint of the sandbox holds the route.
func (d *Driver) serviceRoute(ep *Endpoint, sandboxKey string, six bool) *network.StaticRoute {
	n, ok := d.networks[ep.NetworkID]
	if !ok {
		return nil
	}
	dst, gw := d.cfg.DNSAddr, n.Gateway
	if six {
		dst, gw = d.cfg.DNSAddr6, n.Gateway6
	}
	if !dst.IsValid() || !gw.IsValid() {
		return nil
	}
	has, err := d.sandboxHasRoute(sandboxKey, dst)
	if err != nil {
		d.log.Debug("cannot look into the sandbox; using the endpoint records", "sandbox", sandboxKey, "err", err)
		has = d.routeHeld(ep.ID, sandboxKey, six)
	}
	if has {
		return nil
	}
	return &network.StaticRoute{
		Destination: netip.PrefixFrom(dst, dst.BitLen()).String(),
		RouteType:   routeNextHop,
		NextHop:     gw.String(),
	}
}

// routeNextHop is libnetwork's types.NEXTHOP: a route via a gateway.
const routeNextHop = 0

func (d *Driver) sandboxHasRoute(key string, dst netip.Addr) (bool, error) {
	if d.cfg.Sandboxes == nil || key == "" {
		return false, fmt.Errorf("no sandbox to look into")
	}
	return d.cfg.Sandboxes.HasRoute(key, dst)
}

// routeHeld tells whether another joined endpoint of the sandbox brought the
// service route (six: the IPv6 one). d.mu is held.
func (d *Driver) routeHeld(epID, sandboxKey string, six bool) bool {
	for _, other := range d.endpoints {
		held := other.ServiceRoute
		if six {
			held = other.ServiceRoute6
		}
		if other.ID != epID && other.Joined && held && other.SandboxKey == sandboxKey {
			return true
		}
	}
	return false
}

// Leave is the end of a container's use of the endpoint; the veth goes at
// DeleteEndpoint.
func (d *Driver) Leave(req *network.LeaveRequest) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	ep, err := d.endpointOn(req.NetworkID, req.EndpointID)
	if err != nil {
		return err
	}
	ep.Joined, ep.SandboxKey, ep.ServiceRoute, ep.ServiceRoute6 = false, "", false, false
	if err := d.store.Put(bucketEndpoints, ep.ID, ep); err != nil {
		return fmt.Errorf("record leave of endpoint %s: %w", ShortID(ep.ID), err)
	}
	d.log.Info("endpoint left", "network", ShortID(ep.NetworkID), "endpoint", ShortID(ep.ID))
	d.reconciler.EndpointChanged(*ep, false)
	return nil
}
