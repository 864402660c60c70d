// Package driver is weavego's libnetwork remote network driver.
//
// It translates Docker's requests into calls on the datapath (bridges, VXLAN
// devices, veth pairs), records what it did in the state store so that a
// restarted plugin knows its networks and endpoints, and tells the cluster
// about local changes. It holds no kernel or gossip logic of its own and never
// calls the Docker API: a driver callback that waits on the daemon can
// deadlock it.
package driver

import (
	"encoding/json"
	"fmt"
	"github.com/weavego/weavego/internal/statefile"
	"log/slog"
	"net/netip"
	"sync"

	"github.com/docker/go-plugins-helpers/network"

	"github.com/weavego/weavego/datapath"
	"github.com/weavego/weavego/pluginapi"
)

// Datapath is the driver's view of the kernel side.
type Datapath interface {
	EnsureNetwork(n datapath.Network) (mtu int, err error)
	DeleteNetwork(id string) error
	CreateEndpoint(ep datapath.Endpoint) (hostIf, containerIf string, err error)
	DeleteEndpoint(networkID, endpointID string) error
	// DeleteEndpointAsync deletes the veth pair in the background; it
	// reports nothing: a pair left behind is swept at the next start.
	DeleteEndpointAsync(networkID, endpointID string)
}

// Store persists the driver's records; values are JSON.
type Store interface {
	Put(bucket, key string, v any) error
	Delete(bucket, key string) error
	ForEach(bucket string, fn func(key string, value []byte) error) error
}

// Reconciler is told that local networks and endpoints changed, and hands out
// VNIs (reconcile). The driver owns the networks and endpoints: the reconciler reads them
// through Networks and Endpoints, never while the driver calls it. Its
// methods are called with the driver's lock held and must not block on
// the network or on the Docker API, nor call back into the driver.
type Reconciler interface {
	// AssignVNI picks the VNI of a new network of subnet: requested if
	// free, else a derived one; taken holds the VNIs of this host's other
	// networks, with their names.
	AssignVNI(subnet netip.Prefix, requested uint32, taken map[uint32]string) (uint32, error)
	NetworkChanged(n Network, c Change)
	EndpointChanged(ep Endpoint, deleted bool)
}

// Change says what happened to a network.
type Change int

// The changes of a network.
const (
	Created  Change = iota // Docker created it just now
	Restored               // known from an earlier run of the plugin
	Deleted                // Docker deleted it
)

// Config holds the settings the driver applies to every network.
type Config struct {
	MTU       int          // 0 = automatic (underlay MTU minus VXLAN overhead)
	VTEP      netip.Addr   // this host's underlay address; invalid = single host, no VXLAN
	VXLANPort int          // 0 = datapath.DefaultVXLANPort
	Logger    *slog.Logger // nil discards
	// DNSAddr is the DNS service address (setting DNS_ADDR): put on every
	// bridge and routed to from every container via its gateway; invalid
	// means none.
	DNSAddr netip.Addr
	// DNSAddr6 is the IPv6 one (setting DNS_ADDR6): put on every bridge
	// with an IPv6 gateway and routed to via it; invalid means none.
	DNSAddr6 netip.Addr
	// Sandboxes looks into containers' namespaces at Join; nil means the
	// driver relies on its records alone.
	Sandboxes Sandboxes
	// EncryptedVXLANPort is the VXLAN port of encrypted networks, which
	// only travels inside the tunnel; TunnelOverhead what the tunnel adds
	// to each VXLAN datagram (the automatic MTU leaves room for it).
	EncryptedVXLANPort, TunnelOverhead int
	// EncryptDefault makes networks created on this host encrypted unless
	// created with -o encrypted=false (setting ENCRYPT_DEFAULT).
	EncryptDefault bool
	// CannotEncrypt, when set, says why this host cannot encrypt: encrypted
	// networks are refused here.
	CannotEncrypt error
	// EngineVersion returns the Docker engine's version, "" while unknown;
	// nil means never known. It must not block.
	EngineVersion func() string
	// DirectDefault makes networks created on this host direct unless
	// created with -o direct=false or encrypted (setting DIRECT_DEFAULT).
	DirectDefault bool
}

const (
	bucketNetworks  = statefile.DriverNetworks
	bucketEndpoints = statefile.DriverEndpoints
)

// Driver implements pluginapi.NetworkDriver.
type Driver struct {
	cfg        Config
	dp         Datapath
	store      Store
	reconciler Reconciler
	log        *slog.Logger

	// mu guards networks and endpoints, and serialises the datapath and store
	// calls that change them so that the kernel and the records agree.
	mu        sync.Mutex
	networks  map[string]*Network  // by Docker network ID
	endpoints map[string]*Endpoint // by Docker endpoint ID
}

var _ pluginapi.NetworkDriver = (*Driver)(nil)

// withDefaults fills in the zero fields of c.
func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// New loads the records of an earlier run and returns the driver.
func New(cfg Config, dp Datapath, store Store, reconciler Reconciler) (*Driver, error) {
	cfg = cfg.withDefaults()
	d := &Driver{
		cfg: cfg, dp: dp, store: store, reconciler: reconciler, log: cfg.Logger,
		networks:  map[string]*Network{},
		endpoints: map[string]*Endpoint{},
	}
	if err := store.ForEach(bucketNetworks, func(k string, v []byte) error {
		n := new(Network)
		if err := json.Unmarshal(v, n); err != nil {
			return fmt.Errorf("network record %s: %w", k, err)
		}
		d.networks[n.ID] = n
		return nil
	}); err != nil {
		return nil, fmt.Errorf("load networks: %w", err)
	}
	if err := store.ForEach(bucketEndpoints, func(k string, v []byte) error {
		ep := new(Endpoint)
		if err := json.Unmarshal(v, ep); err != nil {
			return fmt.Errorf("endpoint record %s: %w", k, err)
		}
		d.endpoints[ep.ID] = ep
		return nil
	}); err != nil {
		return nil, fmt.Errorf("load endpoints: %w", err)
	}
	return d, nil
}

// Restore re-applies the recorded networks to the kernel after a restart and
// re-announces networks and endpoints to the cluster. It returns the IDs of
// the networks it knows, so the caller can remove kernel leftovers of others.
func (d *Driver) Restore() (known []string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []error
	for _, n := range d.networks {
		known = append(known, n.ID)
		if _, e := d.dp.EnsureNetwork(d.kernelNetwork(n)); e != nil {
			errs = append(errs, fmt.Errorf("restore network %s: %w", ShortID(n.ID), e))
		}
		d.reconciler.NetworkChanged(*n, Restored)
		d.warnUnknownOptions(n)
	}
	for _, ep := range d.endpoints {
		d.reconciler.EndpointChanged(*ep, false)
	}
	return known, joinErrs(errs)
}

// Networks returns a copy of the local networks.
func (d *Driver) Networks() []Network {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Network, 0, len(d.networks))
	for _, n := range d.networks {
		out = append(out, *n)
	}
	return out
}

// Endpoints returns a copy of the local endpoints.
func (d *Driver) Endpoints() []Endpoint {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Endpoint, 0, len(d.endpoints))
	for _, ep := range d.endpoints {
		out = append(out, *ep)
	}
	return out
}

// GetCapabilities answers local scope: without swarm a global driver fails.
func (d *Driver) GetCapabilities() (*network.CapabilitiesResponse, error) {
	return &network.CapabilitiesResponse{Scope: network.LocalScope, ConnectivityScope: network.GlobalScope}, nil
}

// AllocateNetwork only comes in swarm mode, which weavego does not use.
func (d *Driver) AllocateNetwork(*network.AllocateNetworkRequest) (*network.AllocateNetworkResponse, error) {
	return &network.AllocateNetworkResponse{}, nil
}

// FreeNetwork only comes in swarm mode.
func (d *Driver) FreeNetwork(*network.FreeNetworkRequest) error { return nil }

// DiscoverNew only comes in swarm mode: peers come from the mesh instead.
func (d *Driver) DiscoverNew(*network.DiscoveryNotification) error { return nil }

// DiscoverDelete only comes in swarm mode.
func (d *Driver) DiscoverDelete(*network.DiscoveryNotification) error { return nil }

// ProgramExternalConnectivity has nothing to do: egress and published ports go
// through docker_gwbridge, which Docker sets up itself.
func (d *Driver) ProgramExternalConnectivity(*network.ProgramExternalConnectivityRequest) error {
	return nil
}

// RevokeExternalConnectivity: see ProgramExternalConnectivity.
func (d *Driver) RevokeExternalConnectivity(*network.RevokeExternalConnectivityRequest) error {
	return nil
}
