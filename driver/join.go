package driver

import (
	"fmt"

	"github.com/docker/go-plugins-helpers/network"
)

// containerIfPrefix names the interface inside the container (eth0, eth1, ...).
const containerIfPrefix = "eth"

// Join hands the endpoint's veth to Docker, which moves it into the container.
//
// The reply names no gateway: Docker then also attaches the container to
// docker_gwbridge for egress and published ports, as it does for its own
// overlay networks, and --internal networks get no such attachment.
func (d *Driver) Join(req *network.JoinRequest) (*network.JoinResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ep, ok := d.endpoints[req.EndpointID]
	if !ok || ep.NetworkID != req.NetworkID {
		return nil, fmt.Errorf("weavego has no endpoint %s on network %s", short(req.EndpointID), short(req.NetworkID))
	}
	ep.Joined, ep.SandboxKey = true, req.SandboxKey
	if err := d.store.Put(bucketEndpoints, ep.ID, ep); err != nil {
		return nil, fmt.Errorf("record join of endpoint %s: %w", short(ep.ID), err)
	}
	d.log.Info("endpoint joined", "network", short(ep.NetworkID), "endpoint", short(ep.ID), "sandbox", req.SandboxKey)
	d.cluster.EndpointChanged(*ep, false)
	return &network.JoinResponse{
		InterfaceName: network.InterfaceName{SrcName: ep.ContainerIf, DstPrefix: containerIfPrefix},
	}, nil
}

// Leave is the end of a container's use of the endpoint; the veth goes at
// DeleteEndpoint.
func (d *Driver) Leave(req *network.LeaveRequest) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	ep, ok := d.endpoints[req.EndpointID]
	if !ok || ep.NetworkID != req.NetworkID {
		return fmt.Errorf("weavego has no endpoint %s on network %s", short(req.EndpointID), short(req.NetworkID))
	}
	ep.Joined, ep.SandboxKey = false, ""
	if err := d.store.Put(bucketEndpoints, ep.ID, ep); err != nil {
		return fmt.Errorf("record leave of endpoint %s: %w", short(ep.ID), err)
	}
	d.log.Info("endpoint left", "network", short(ep.NetworkID), "endpoint", short(ep.ID))
	d.cluster.EndpointChanged(*ep, false)
	return nil
}
