package driver

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/docker/go-plugins-helpers/network"
)

// Option keys Docker passes to CreateNetwork.
const (
	optGeneric  = "com.docker.network.generic"
	optIPv6     = "com.docker.network.enable_ipv6"
	optIPv4     = "com.docker.network.enable_ipv4"
	optInternal = "com.docker.network.internal"
	optMTU      = "com.docker.network.driver.mtu"
	// OptVNI is the `-o vni=N` option of `docker network create`.
	OptVNI = "vni"
	// maxVNI is the largest VXLAN network identifier (24 bits).
	maxVNI = 1<<24 - 1
)

// IPAMHint is the advice given when a network does not use weavego's IPAM.
const IPAMHint = "weavego networks need weavego's address allocator so that container addresses stay unique " +
	"across hosts: create the network with `docker network create -d weavego:latest --ipam-driver weavego:latest NAME` " +
	"(add --subnet, --gateway or --ip-range as needed)"

// CreateNetwork sets up the bridge (and VXLAN device) of a new network.
func (d *Driver) CreateNetwork(req *network.CreateNetworkRequest) error {
	n, err := parseNetwork(req)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	unknown := UnknownOptions(n.Options)
	if old, ok := d.networks[n.ID]; ok {
		if old.Subnet == n.Subnet && old.Subnet6 == n.Subnet6 {
			d.warnUnknownOptions(old) // Docker repeats CreateNetwork after a daemon restart
			return nil
		}
		return fmt.Errorf("network %s already exists with subnet %s%s", ShortID(n.ID), old.Key(), ipv6Words(old.Subnet6))
	}
	if len(unknown) > 0 && n.Options[OptReplica] == "" {
		// A replica copies a cluster definition that may predate this check:
		// it is created, with a warning, as the original keeps working.
		return unknownOptionsError(unknown)
	}
	if err := checkIfacePrefix(n.Options); err != nil && n.Options[OptReplica] == "" {
		return err
	}
	if err := d.applyEncryption(n); err != nil {
		return err
	}
	if err := d.applyDirect(n); err != nil {
		return err
	}
	if d.cfg.DNSAddr.IsValid() && n.Subnet.Contains(d.cfg.DNSAddr) {
		return fmt.Errorf("subnet %s contains the DNS service address %s (setting DNS_ADDR): pick another subnet, "+
			"or change DNS_ADDR on every host", n.Subnet, d.cfg.DNSAddr)
	}
	if d.cfg.DNSAddr6.IsValid() && n.Subnet6.Contains(d.cfg.DNSAddr6) {
		return fmt.Errorf("IPv6 subnet %s contains the IPv6 DNS service address %s (setting DNS_ADDR6): pick another "+
			"IPv6 subnet, or change DNS_ADDR6 on every host", n.Subnet6, d.cfg.DNSAddr6)
	}
	for _, other := range d.networks {
		if n.Subnet.IsValid() && other.Subnet.Overlaps(n.Subnet) {
			return fmt.Errorf("subnet %s overlaps subnet %s of network %s on this host", n.Subnet, other.Subnet, ShortID(other.ID))
		}
		if n.Subnet6.IsValid() && other.Subnet6.IsValid() && other.Subnet6.Overlaps(n.Subnet6) {
			return fmt.Errorf("IPv6 subnet %s overlaps IPv6 subnet %s of network %s on this host", n.Subnet6, other.Subnet6, ShortID(other.ID))
		}
	}
	taken := map[uint32]string{}
	for id, other := range d.networks {
		if other.Key() != n.Key() {
			taken[other.VNI] = "local network " + ShortID(id)
		}
	}
	if n.VNI, err = d.reconciler.AssignVNI(n.Key(), n.VNI, taken); err != nil {
		return err
	}
	if d.cfg.MTU != 0 && n.MTU == 0 {
		n.MTU = d.cfg.MTU
	}
	if _, err := d.dp.EnsureNetwork(d.kernelNetwork(n)); err != nil {
		_ = d.dp.DeleteNetwork(n.ID)
		return fmt.Errorf("set up network %s: %w", ShortID(n.ID), err)
	}
	if err := d.store.Put(bucketNetworks, n.ID, n); err != nil {
		_ = d.dp.DeleteNetwork(n.ID)
		return fmt.Errorf("record network %s: %w", ShortID(n.ID), err)
	}
	d.networks[n.ID] = n
	d.log.Info("network created", "network", ShortID(n.ID), "subnet", n.Subnet, "gateway", n.Gateway, "vni", n.VNI,
		"subnet6", n.Subnet6, "gateway6", n.Gateway6)
	d.warnUnknownOptions(n)
	d.reconciler.NetworkChanged(*n, Created)
	return nil
}

// DeleteNetwork removes the network's devices.
func (d *Driver) DeleteNetwork(req *network.DeleteNetworkRequest) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	n, ok := d.networks[req.NetworkID]
	if !ok {
		return fmt.Errorf("weavego has no network %s", ShortID(req.NetworkID))
	}
	for _, ep := range d.endpoints {
		if ep.NetworkID == n.ID {
			return fmt.Errorf("network %s still has endpoint %s", ShortID(n.ID), ShortID(ep.ID))
		}
	}
	if err := d.dp.DeleteNetwork(n.ID); err != nil {
		return fmt.Errorf("remove network %s: %w", ShortID(n.ID), err)
	}
	if err := d.store.Delete(bucketNetworks, n.ID); err != nil {
		return fmt.Errorf("forget network %s: %w", ShortID(n.ID), err)
	}
	delete(d.networks, n.ID)
	d.log.Info("network deleted", "network", ShortID(n.ID))
	d.reconciler.NetworkChanged(*n, Deleted)
	return nil
}

// parseNetwork checks a CreateNetwork request and turns it into a record.
func parseNetwork(req *network.CreateNetworkRequest) (*Network, error) {
	if req.NetworkID == "" {
		return nil, fmt.Errorf("CreateNetwork without a network ID")
	}
	n := &Network{ID: req.NetworkID, Options: genericOptions(req.Options)}
	if err := parseIPv6(req, n); err != nil {
		return nil, err
	}
	n.Internal, _ = req.Options[optInternal].(bool)
	if v4, ok := req.Options[optIPv4].(bool); ok && !v4 {
		if err := checkIPv6Only(req, n); err != nil {
			return nil, err
		}
	} else if err := parseIPv4(req, n); err != nil {
		return nil, err
	}
	var err error
	if v, ok := n.Options[optMTU]; ok {
		if n.MTU, err = strconv.Atoi(v); err != nil || n.MTU < 576 || n.MTU > 65535 {
			return nil, fmt.Errorf("option %s=%q is not an MTU from 576 to 65535", optMTU, v)
		}
	}
	for _, name := range []string{OptEncrypted, OptDirect} {
		if err := checkBoolOption(n.Options, name); err != nil {
			return nil, err
		}
	}
	if v, ok := n.Options[OptVNI]; ok {
		vni, err := strconv.ParseUint(v, 10, 32)
		if err != nil || vni < 1 || vni > maxVNI {
			return nil, fmt.Errorf("option vni=%q is not a VXLAN network identifier from 1 to %d", v, maxVNI)
		}
		n.VNI = uint32(vni)
	}
	return n, nil
}

// parseIPv4 reads the IPv4 pool of the network into n.
func parseIPv4(req *network.CreateNetworkRequest, n *Network) error {
	if len(req.IPv4Data) != 1 || req.IPv4Data[0] == nil {
		return fmt.Errorf("a weavego network needs exactly one IPv4 subnet, got %d", len(req.IPv4Data))
	}
	ipd := req.IPv4Data[0]
	if !strings.HasPrefix(ipd.AddressSpace, AddressSpacePrefix) {
		return fmt.Errorf("%s", IPAMHint)
	}
	var err error
	if n.Subnet, err = netip.ParsePrefix(ipd.Pool); err != nil {
		return fmt.Errorf("subnet %q from IPAM is not a CIDR", ipd.Pool)
	}
	if ipd.Gateway != "" {
		gw, err := netip.ParsePrefix(ipd.Gateway)
		if err != nil {
			return fmt.Errorf("gateway %q from IPAM is not an address with prefix", ipd.Gateway)
		}
		n.Gateway = gw.Addr()
	}
	return nil
}

// AddressSpacePrefix starts the names of weavego's IPAM address spaces; a
// network whose pool comes from another IPAM driver is refused.
const AddressSpacePrefix = "weavego-"

// genericOptions flattens `-o key=value` options to strings.
func genericOptions(opts map[string]interface{}) map[string]string {
	out := map[string]string{}
	g, _ := opts[optGeneric].(map[string]interface{})
	for k, v := range g {
		switch v := v.(type) {
		case string:
			out[k] = v
		case nil:
			out[k] = ""
		default:
			out[k] = fmt.Sprint(v)
		}
	}
	return out
}
