package driver

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/docker/go-plugins-helpers/network"

	"github.com/weavego/weavego/datapath"
)

// CreateEndpoint makes the endpoint's veth pair on the network's bridge.
func (d *Driver) CreateEndpoint(req *network.CreateEndpointRequest) (*network.CreateEndpointResponse, error) {
	if req.Interface == nil {
		return nil, fmt.Errorf("endpoint %s has no interface: weavego networks need addresses from IPAM", ShortID(req.EndpointID))
	}
	ifname, err := requestedIfname(req.Options)
	if err == nil {
		err = d.checkEngineOptions(req.Options, ifname)
	}
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	n, ok := d.networks[req.NetworkID]
	if !ok {
		return nil, fmt.Errorf("weavego has no network %s", ShortID(req.NetworkID))
	}
	addr, err := parseEndpoint4(req.Interface, n)
	if err != nil {
		return nil, err
	}
	addr6, err := parseEndpoint6(req.Interface, n)
	if err != nil {
		return nil, err
	}
	resp := &network.CreateEndpointResponse{}
	mac := req.Interface.MacAddress
	if mac == "" {
		if n.IPv6Only() {
			mac = MACFromIP6(addr6.Addr()).String()
		} else {
			mac = MACFromIP(addr.Addr()).String()
		}
		resp.Interface = &network.EndpointInterface{MacAddress: mac}
	} else if _, err := net.ParseMAC(mac); err != nil {
		return nil, fmt.Errorf("MAC address %q is not valid", mac)
	}
	if old, ok := d.endpoints[req.EndpointID]; ok {
		if old.Addr == addr && old.Addr6 == addr6 && old.IfName == ifname {
			return resp, nil
		}
		return nil, fmt.Errorf("endpoint %s already exists with address %s", ShortID(old.ID), old.Addr)
	}
	hw, _ := net.ParseMAC(mac)
	hostIf, ctrIf, err := d.dp.CreateEndpoint(datapath.Endpoint{NetworkID: n.ID, ID: req.EndpointID, MAC: hw})
	if err != nil {
		_ = d.dp.DeleteEndpoint(n.ID, req.EndpointID)
		return nil, fmt.Errorf("create interface of endpoint %s: %w", ShortID(req.EndpointID), err)
	}
	ep := &Endpoint{ID: req.EndpointID, NetworkID: n.ID, Addr: addr, Addr6: addr6, MAC: mac, HostIf: hostIf, ContainerIf: ctrIf,
		IfName: ifname}
	if err := d.store.Put(bucketEndpoints, ep.ID, ep); err != nil {
		_ = d.dp.DeleteEndpoint(n.ID, ep.ID)
		return nil, fmt.Errorf("record endpoint %s: %w", ShortID(ep.ID), err)
	}
	d.endpoints[ep.ID] = ep
	d.log.Info("endpoint created", "network", ShortID(n.ID), "endpoint", ShortID(ep.ID), "ip", addr, "ip6", addr6, "mac", mac,
		"ifname", ifname)
	d.reconciler.EndpointChanged(*ep, false)
	return resp, nil
}

// DeleteEndpoint forgets the endpoint and has its veth pair deleted in the
// background: Docker waits for the reply before it finishes removing the
// container, and deleting a veth takes the kernel some 20 ms. A pair whose
// delete is lost (a crash) belongs to no recorded endpoint and is swept at
// the next start (datapath.Manager.SweepEndpoints).
func (d *Driver) DeleteEndpoint(req *network.DeleteEndpointRequest) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	ep, err := d.endpointOn(req.NetworkID, req.EndpointID)
	if err != nil {
		return err
	}
	if err := d.store.Delete(bucketEndpoints, ep.ID); err != nil {
		return fmt.Errorf("forget endpoint %s: %w", ShortID(ep.ID), err)
	}
	delete(d.endpoints, ep.ID)
	d.dp.DeleteEndpointAsync(ep.NetworkID, ep.ID)
	d.log.Info("endpoint deleted", "network", ShortID(ep.NetworkID), "endpoint", ShortID(ep.ID), "ip", ep.Addr)
	d.reconciler.EndpointChanged(*ep, true)
	return nil
}

// endpointOn returns the endpoint endpointID of network networkID, or the
// error Docker shows when weavego has none; d.mu is held.
func (d *Driver) endpointOn(networkID, endpointID string) (*Endpoint, error) {
	ep, ok := d.endpoints[endpointID]
	if !ok || ep.NetworkID != networkID {
		return nil, fmt.Errorf("weavego has no endpoint %s on network %s", ShortID(endpointID), ShortID(networkID))
	}
	return ep, nil
}

// EndpointInfo reports what `docker network inspect` may show of an endpoint.
func (d *Driver) EndpointInfo(req *network.InfoRequest) (*network.InfoResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ep, err := d.endpointOn(req.NetworkID, req.EndpointID)
	if err != nil {
		return nil, err
	}
	return &network.InfoResponse{Value: map[string]string{
		"weavego.host_interface": ep.HostIf,
		"weavego.mac":            ep.MAC,
	}}, nil
}

// parseEndpoint4 reads the IPv4 address Docker gave an endpoint of n:
// required, inside n's subnet, except on an IPv6-only network, which has
// none.
func parseEndpoint4(iface *network.EndpointInterface, n *Network) (netip.Prefix, error) {
	if n.IPv6Only() {
		if iface.Address != "" {
			return netip.Prefix{}, fmt.Errorf("endpoint has IPv4 address %s but network %s is IPv6-only", iface.Address, ShortID(n.ID))
		}
		return netip.Prefix{}, nil
	}
	if iface.Address == "" {
		return netip.Prefix{}, fmt.Errorf("endpoint has no IPv4 address: weavego networks need one from IPAM")
	}
	addr, err := netip.ParsePrefix(iface.Address)
	if err != nil || !addr.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("endpoint address %q is not an IPv4 address with prefix", iface.Address)
	}
	if !n.Subnet.Contains(addr.Addr()) {
		return netip.Prefix{}, fmt.Errorf("address %s is outside subnet %s of network %s", addr.Addr(), n.Subnet, ShortID(n.ID))
	}
	return addr, nil
}

// MACFromIP6 is the MAC of an endpoint of an IPv6-only network: 02:77 and
// the last 32 bits of its address, which weavego's IPAM hands out from the
// first 2^32 addresses of a subnet, so that they differ within a network.
func MACFromIP6(ip netip.Addr) net.HardwareAddr {
	b := ip.As16()
	return net.HardwareAddr{0x02, 0x77, b[12], b[13], b[14], b[15]}
}

// MACFromIP derives a locally administered MAC address from an IPv4 address;
// addresses are unique in the cluster, so these MACs are too.
func MACFromIP(ip netip.Addr) net.HardwareAddr {
	b := ip.As4()
	return net.HardwareAddr{0x02, 0x77, b[0], b[1], b[2], b[3]}
}
