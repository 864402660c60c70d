// Package cluster joins the local plugin to the others: it publishes this
// host's networks, endpoints and container names into the replicated state
// (package mesh), makes the kernel match the endpoints of the other hosts
// (package datapath), creates and removes networks through the local Docker
// API as they come and go elsewhere, and feeds the DNS server.
//
// It reconciles rather than replays: every pass recomputes the desired state
// from the replicated map and the local records and applies the difference, so
// missed events, restarts and reordered gossip heal by themselves. Two loops
// run: the kernel loop (fast, never waits on Docker) and the Docker loop
// (network propagation and names, retried while the Docker API is down).
// Driver callbacks only record a change and kick the loops; they never block.
package cluster

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weavego/weavego/datapath"
	"github.com/weavego/weavego/driver"
	"github.com/weavego/weavego/mesh"
)

// Replica is the agent's view of the replicated state.
type Replica interface {
	LocalName() string
	Set(kind, key string, value []byte) mesh.Entry
	Delete(kind, key string) mesh.Entry
	Get(kind, key string) (mesh.Entry, bool)
	List(kind string) []mesh.Entry
	Subscribe() (<-chan struct{}, func())
	Alive(name string) bool
	Peers() []mesh.Peer
}

// Kernel is the agent's view of the datapath.
type Kernel interface {
	SetRemotes(networkID string, remotes []datapath.Remote, floodVTEPs []net.IP) error
	// SetVXLANPeers sets the underlay addresses VXLAN is accepted from.
	SetVXLANPeers(addrs []netip.Addr) error
}

// Config configures an Agent.
type Config struct {
	VTEP       netip.Addr
	Logger     *slog.Logger
	Resync     time.Duration // full reconcile period; default 5 s
	PluginName string        // full name of this plugin in Docker; "" = ask Docker
}

// Deps are the parts the agent drives; Docker and the DNS parts may be nil
// (no Docker API: no network propagation and no names).
type Deps struct {
	Replica      Replica
	Kernel       Kernel
	Docker       Docker
	DNSTable     DNSTable
	DNSListeners DNSListeners
	// HostRoutes lists this host's own routes; nil skips the overlap check.
	HostRoutes HostRoutes
}

// Agent implements driver.Cluster.
type Agent struct {
	cfg    Config
	rep    Replica
	kernel Kernel
	docker Docker
	table  DNSTable
	listen DNSListeners
	log    *slog.Logger

	hostRoutes HostRoutes

	// started and rejoined drive holdRemotes (rejoin.go).
	started  time.Time
	rejoined atomic.Bool

	kickKernel chan struct{}
	kickDocker chan struct{}

	// dnsMu serialises feedDNS. Lock order: dnsMu, then mu.
	dnsMu sync.Mutex

	// mu guards the fields below. Lock order: the driver's lock, then mu
	// (driver callbacks call in with the driver's lock held).
	mu        sync.Mutex
	networks  map[string]driver.Network  // local networks by Docker ID
	endpoints map[string]driver.Endpoint // local endpoints by Docker ID
	fresh     map[string]bool            // network IDs the user created locally, not yet published
	names     map[string]string          // Docker network ID -> name, learned from Docker
	removing  map[string]bool            // network IDs the agent itself is removing
	netsSeen  uint64                     // fingerprint of the network entries last seen
	warned    map[string]string          // skipped records already warned about, and why
	refused   map[string]string          // cluster networks refused on this host, and why
}

var _ driver.Cluster = (*Agent)(nil)

// New returns an agent.
func New(cfg Config, deps Deps) *Agent {
	if cfg.Resync == 0 {
		cfg.Resync = 5 * time.Second
	}
	return &Agent{
		cfg: cfg, rep: deps.Replica, kernel: deps.Kernel, docker: deps.Docker, table: deps.DNSTable,
		listen: deps.DNSListeners, log: cfg.Logger, hostRoutes: deps.HostRoutes, started: time.Now(),
		kickKernel: make(chan struct{}, 1), kickDocker: make(chan struct{}, 1),
		networks: map[string]driver.Network{}, endpoints: map[string]driver.Endpoint{},
		fresh: map[string]bool{}, names: map[string]string{}, removing: map[string]bool{},
		warned: map[string]string{},
	}
}

func kick(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Run runs the kernel and Docker loops until ctx ends.
func (a *Agent) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); a.kernelLoop(ctx) }()
	if a.docker != nil {
		wg.Add(1)
		go func() { defer wg.Done(); a.dockerLoop(ctx) }()
	}
	wg.Wait()
}

func (a *Agent) kernelLoop(ctx context.Context) {
	changes, unsubscribe := a.rep.Subscribe()
	defer unsubscribe()
	tick := time.NewTicker(a.cfg.Resync)
	defer tick.Stop()
	for {
		if err := a.reconcileKernel(); err != nil {
			a.log.Warn("reconcile datapath", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-changes:
			a.feedDNS()
			if a.networksChanged() {
				kick(a.kickDocker)
			}
		case <-a.kickKernel:
			a.feedDNS() // a joined sandbox is known to dnsd at once
		case <-tick.C:
		}
	}
}

// AssignVNI picks the VNI of a network being created: the requested one after
// checking it against the cluster's networks, else one derived from the
// subnet (so that every host derives the same) that no known network uses.
func (a *Agent) AssignVNI(networkID string, subnet netip.Prefix, requested uint32) (uint32, error) {
	used := map[uint32]string{}
	for _, e := range a.rep.List(KindNetwork) {
		if def, ok := decode[NetDef](e.Value); ok && def.Subnet != subnet {
			used[def.VNI] = def.Name
		}
	}
	a.mu.Lock()
	for id, n := range a.networks {
		if id != networkID && n.Subnet != subnet {
			used[n.VNI] = "local network " + id[:min(12, len(id))]
		}
	}
	a.mu.Unlock()
	if requested != 0 {
		if other, ok := used[requested]; ok {
			return 0, fmt.Errorf("VNI %d is already used by network %s: pick another -o vni=N or leave it out", requested, other)
		}
		return requested, nil
	}
	h := fnv.New32a()
	h.Write([]byte(subnet.String()))
	vni := h.Sum32()%(1<<24-2) + 1
	for used[vni] != "" {
		vni = vni%(1<<24-2) + 1
	}
	return vni, nil
}

// NetworkChanged records a local network change and kicks the loops.
func (a *Agent) NetworkChanged(n driver.Network, c driver.Change) {
	a.mu.Lock()
	switch c {
	case driver.Deleted:
		delete(a.networks, n.ID)
		delete(a.fresh, n.ID)
		if !a.removing[n.ID] {
			if name, ok := a.names[n.ID]; ok {
				a.retractNetwork(name, n.VNI)
			}
		}
		delete(a.removing, n.ID)
		delete(a.names, n.ID)
	case driver.Created:
		a.networks[n.ID] = n
		if n.Options[OptReplica] == "" {
			a.fresh[n.ID] = true
		}
	default:
		a.networks[n.ID] = n
	}
	a.mu.Unlock()
	kick(a.kickKernel)
	kick(a.kickDocker)
}

// EndpointChanged records a local endpoint change and kicks the loops.
func (a *Agent) EndpointChanged(ep driver.Endpoint, deleted bool) {
	a.mu.Lock()
	if deleted {
		delete(a.endpoints, ep.ID)
	} else {
		a.endpoints[ep.ID] = ep
	}
	a.mu.Unlock()
	kick(a.kickKernel)
	kick(a.kickDocker)
}

// retractNetwork removes the cluster definition of a network the user removed
// here; mu is held.
func (a *Agent) retractNetwork(name string, vni uint32) {
	e, ok := a.rep.Get(KindNetwork, name)
	if !ok || e.Deleted {
		return
	}
	if def, ok := decode[NetDef](e.Value); ok && def.VNI == vni {
		a.log.Info("network removed: removing it on every host", "network", name)
		a.rep.Delete(KindNetwork, name)
	}
}

// networksChanged tells whether the cluster's network definitions changed
// since the last call, so that the Docker loop runs only when it has work.
func (a *Agent) networksChanged() bool {
	h := fnv.New64a()
	for _, e := range a.rep.List(KindNetwork) {
		fmt.Fprintf(h, "%s/%s/%d;", e.Key, e.Owner, e.Version)
	}
	sum := h.Sum64()
	a.mu.Lock()
	defer a.mu.Unlock()
	changed := sum != a.netsSeen
	a.netsSeen = sum
	return changed
}
