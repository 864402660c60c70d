package driver

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/docker/go-plugins-helpers/network"

	"github.com/weavego/weavego/internal/netrules"
)

// checkIPv6Only checks an IPv6-only network (--ipv6 --ipv4=false, Docker 28
// and later): Docker sends com.docker.network.enable_ipv4=false, no IPv4
// pool (it asks the IPAM driver for none) and one IPv6 pool.
func checkIPv6Only(req *network.CreateNetworkRequest, n *Network) error {
	if len(req.IPv4Data) != 0 {
		return fmt.Errorf("an IPv6-only network (--ipv4=false) got %d IPv4 subnets from IPAM: give no IPv4 --subnet", len(req.IPv4Data))
	}
	if !n.Subnet6.IsValid() {
		return fmt.Errorf("a weavego network with --ipv4=false needs --ipv6 as well")
	}
	return nil
}

// parseIPv6 reads the IPv6 pool of a --ipv6 network into n. Docker sends
// com.docker.network.enable_ipv6 and one IPv6 pool from the IPAM driver;
// the pool must come from weavego's IPAM and obey the IPv6 network rules.
func parseIPv6(req *network.CreateNetworkRequest, n *Network) error {
	enabled, _ := req.Options[optIPv6].(bool)
	if !enabled && len(req.IPv6Data) == 0 {
		return nil
	}
	if len(req.IPv6Data) != 1 || req.IPv6Data[0] == nil {
		return fmt.Errorf("a weavego network with --ipv6 needs exactly one IPv6 subnet, got %d: give at most one IPv6 --subnet",
			len(req.IPv6Data))
	}
	ipd := req.IPv6Data[0]
	if !strings.HasPrefix(ipd.AddressSpace, AddressSpacePrefix) {
		return fmt.Errorf("%s", IPAMHint)
	}
	subnet, err := netip.ParsePrefix(ipd.Pool)
	if err != nil {
		return fmt.Errorf("IPv6 subnet %q from IPAM is not a CIDR", ipd.Pool)
	}
	if err := netrules.CheckSubnet6(subnet); err != nil {
		return err
	}
	n.Subnet6 = subnet
	if ipd.Gateway == "" {
		return nil
	}
	gw, err := netip.ParsePrefix(ipd.Gateway)
	if err != nil {
		return fmt.Errorf("IPv6 gateway %q from IPAM is not an address with prefix", ipd.Gateway)
	}
	if err := netrules.CheckGateway6(subnet, gw.Addr()); err != nil {
		return err
	}
	n.Gateway6 = gw.Addr()
	return nil
}

// parseEndpoint6 reads the IPv6 address Docker gave an endpoint of n:
// required on a --ipv6 network, refused on others.
func parseEndpoint6(iface *network.EndpointInterface, n *Network) (netip.Prefix, error) {
	if !n.Subnet6.IsValid() {
		if iface.AddressIPv6 != "" {
			return netip.Prefix{}, fmt.Errorf("endpoint has IPv6 address %s but network %s has no IPv6: create the network with --ipv6",
				iface.AddressIPv6, ShortID(n.ID))
		}
		return netip.Prefix{}, nil
	}
	if iface.AddressIPv6 == "" {
		return netip.Prefix{}, fmt.Errorf("endpoint has no IPv6 address on IPv6 network %s: weavego's IPAM gives one", ShortID(n.ID))
	}
	addr, err := netip.ParsePrefix(iface.AddressIPv6)
	if err != nil || !addr.Addr().Is6() {
		return netip.Prefix{}, fmt.Errorf("endpoint address %q is not an IPv6 address with prefix", iface.AddressIPv6)
	}
	if err := netrules.CheckInside6(n.Subnet6, addr.Addr()); err != nil {
		return netip.Prefix{}, fmt.Errorf("IPv6 address of the endpoint on network %s: %w", ShortID(n.ID), err)
	}
	return addr, nil
}

// ipv6Words is ", IPv6 subnet S" for a valid s, else "": for messages.
func ipv6Words(s netip.Prefix) string {
	if !s.IsValid() {
		return ""
	}
	return ", IPv6 subnet " + s.String()
}
