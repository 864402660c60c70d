// Package reconcile joins the local plugin to the others: it publishes this
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
//
// Deletion follows Docker swarm's rule, a network in use anywhere stays: a
// removal (rm or prune) on a host while other hosts have endpoints on the
// network leaves the cluster definition alone, and the Docker loop creates
// the network there again at once (Status says why, in Kept). A removal
// while no other host has endpoints writes a tombstone, and every host
// removes the network where no container is attached. Only the host that
// defined a network publishes it again when the cluster has no record of it
// (and not even that host when its saved state was stale, Config.StaleState);
// a replica whose definition is gone is removed once the agent has settled
// (Config.Settle). Tombstone lifetime is mesh's (see mesh/doc.go).
package reconcile

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weavego/weavego/datapath"
	"github.com/weavego/weavego/driver"
	"github.com/weavego/weavego/internal/record"
	"github.com/weavego/weavego/mesh"
	"github.com/weavego/weavego/tunnel"
)

// ClusterMap is the agent's view of the replicated state.
type ClusterMap interface {
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
	SetRemotes(networkID string, remotes []datapath.Remote, floodVTEPs []netip.Addr) error
	// SetVXLANPeers sets the underlay addresses VXLAN is accepted from.
	SetVXLANPeers(addrs []netip.Addr) error
	// DirectMAC is the MAC of the macvlan of a direct network on this
	// host, nil when there is none; DirectPaths says, per peer VTEP, which
	// path the network's unicast takes (datapath.PathDirect or why not).
	DirectMAC(networkID string) net.HardwareAddr
	DirectPaths(networkID string) map[netip.Addr]string
}

// Defaults of Config.
const (
	DefaultResync = 5 * time.Second
	DefaultSettle = 15 * time.Second
)

// Config configures an Agent. Zero fields take the defaults above; a nil
// Logger discards.
type Config struct {
	VTEP       netip.Addr
	Logger     *slog.Logger
	Resync     time.Duration // full reconcile period; default DefaultResync
	PluginName string        // full name of this plugin in Docker; "" = ask Docker
	// Settle is how long the agent waits after start, with another host
	// alive, before it takes a network definition missing from the
	// cluster for a removal; default DefaultSettle.
	Settle time.Duration
	// StaleState says the saved state was older than the tombstone
	// lifetime: a network this host defined and the cluster no longer
	// has was removed while it was away, and is not published again.
	StaleState bool
	// NetNS gives the path of the network namespace of a local network,
	// where dnsd listens for it; nil: dnsd listens in its own namespace.
	NetNS func(networkID string) string
	// CannotEncrypt says, where Deps.Tunnel is nil, why.
	CannotEncrypt string
}

// Deps are the parts the agent drives; Docker and the DNS parts may be nil
// (no Docker API: no network propagation and no names), and Local too (no
// local networks).
type Deps struct {
	Map          ClusterMap
	Local        Local
	Kernel       Kernel
	Docker       Docker
	DNSTable     DNSTable
	DNSListeners DNSListeners
	// HostRoutes lists this host's own routes; nil skips the overlap check.
	HostRoutes HostRoutes
	// Tunnel is this host's WireGuard device; nil: this host cannot encrypt
	// (Config.CannotEncrypt says why).
	Tunnel Tunnel
}

// Agent implements driver.Reconciler.
type Agent struct {
	cfg    Config
	rep    ClusterMap
	kernel Kernel
	docker Docker
	table  DNSTable
	listen DNSListeners
	log    *slog.Logger

	hostRoutes HostRoutes
	tunnel     Tunnel

	// started is when New ran (set once); with rejoined it drives
	// holdRemotes (rejoin.go), and it bounds Config.Settle.
	started  time.Time
	rejoined atomic.Bool

	kickKernel chan struct{}
	kickDocker chan struct{}

	// local is the driver's state, read as snapshots (Local).
	local Local

	// aliases is owned by the Docker loop (syncNames).
	aliases aliasCache

	// dnsMu serialises feedDNS, which reads local while holding it.
	// Driver callbacks never take it.
	dnsMu sync.Mutex

	// mu guards the fields below. It is a leaf: never held while calling
	// local or another package's lock-taking code but the replica's (whose
	// locks are leaves too), so no lock order spans the agent and the
	// driver, which calls in with its own lock held.
	mu        sync.Mutex
	fresh     map[string]bool           // network IDs the user created locally, not yet published
	names     map[string]string         // Docker network ID -> name, learned from Docker
	removing  map[string]bool           // network IDs the agent itself is removing
	netsSeen  uint64                    // fingerprint of the network entries last seen
	warned    map[string]string         // skipped records already warned about, and why
	refused   map[string]string         // cluster networks refused on this host, and why
	kept      map[string]string         // networks removed here but kept in the cluster, and why
	retrySoon bool                      // a network could not be (re)created yet: retry shortly
	encPeers  map[string]*EncryptedPeer // hosts sharing an encrypted network, by name (encrypt.go)
	wgPeers   map[string]tunnel.Peer    // of those, the ones given to the tunnel, by name
}

var _ driver.Reconciler = (*Agent)(nil)

// withDefaults fills in the zero fields of c.
func (c Config) withDefaults() Config {
	if c.Resync <= 0 {
		c.Resync = DefaultResync
	}
	if c.Settle <= 0 {
		c.Settle = DefaultSettle
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// New returns an agent.
func New(cfg Config, deps Deps) *Agent {
	cfg = cfg.withDefaults()
	if deps.Local == nil {
		deps.Local = noLocal{}
	}
	return &Agent{
		cfg: cfg, rep: deps.Map, local: deps.Local, kernel: deps.Kernel, docker: deps.Docker, table: deps.DNSTable,
		listen: deps.DNSListeners, log: cfg.Logger, hostRoutes: deps.HostRoutes, tunnel: deps.Tunnel, started: time.Now(),
		kickKernel: make(chan struct{}, 1), kickDocker: make(chan struct{}, 1),
		fresh: map[string]bool{}, names: map[string]string{}, removing: map[string]bool{},
		warned: map[string]string{}, kept: map[string]string{},
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
// checking it against the cluster's networks and taken (the VNIs of this
// host's other networks, which the driver owns, with their names), else one
// derived from the subnet (the IPv4 one, or the IPv6 one of an IPv6-only
// network: so that every host derives the same) that no
// known network uses.
func (a *Agent) AssignVNI(subnet netip.Prefix, requested uint32, taken map[uint32]string) (uint32, error) {
	used := map[uint32]string{}
	for _, e := range a.netDefs() {
		if def, ok := record.Decode[NetDef](e.Value); ok && def.key() != subnet {
			used[def.VNI] = def.Name
		}
	}
	maps.Copy(used, taken)
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

// NetworkChanged records what the agent must know of a local network change
// (a network the user created or removed here) and kicks the loops.
func (a *Agent) NetworkChanged(n driver.Network, c driver.Change) {
	a.mu.Lock()
	switch c {
	case driver.Deleted:
		delete(a.fresh, n.ID)
		if !a.removing[n.ID] {
			if name, ok := a.names[n.ID]; ok {
				a.userRemoved(name, n.VNI)
			}
		}
		delete(a.removing, n.ID)
		delete(a.names, n.ID)
	case driver.Created:
		if n.Options[OptReplica] == "" {
			a.fresh[n.ID] = true
		}
	}
	a.mu.Unlock()
	kick(a.kickKernel)
	kick(a.kickDocker)
}

// EndpointChanged kicks the loops after a local endpoint change.
func (a *Agent) EndpointChanged(driver.Endpoint, bool) {
	kick(a.kickKernel)
	kick(a.kickDocker)
}

// userRemoved handles a network the user removed here (docker network rm or
// prune): a network in use on another host stays in the cluster and comes
// back here at once; one in use nowhere else is removed on every host. mu
// is held.
func (a *Agent) userRemoved(name string, vni uint32) {
	e, ok := a.netDef(name)
	if !ok || e.Deleted {
		return
	}
	def, ok := record.Decode[NetDef](e.Value)
	if !ok || def.VNI != vni {
		return
	}
	if users := a.usersElsewhere(vni); len(users) > 0 {
		why := "in use on hosts " + strings.Join(users, ", ")
		a.kept[name] = why
		a.retrySoon = true
		a.log.Warn("network removed on this host is kept in the cluster and created here again: "+why,
			"network", name, "hosts", users)
		return
	}
	delete(a.kept, name)
	a.log.Info("network removed: removing it on every host", "network", name)
	a.deleteNetDef(name)
}

// usersElsewhere lists, sorted, the other hosts with containers on the
// network vni (down hosts too: their containers may come back).
func (a *Agent) usersElsewhere(vni uint32) []string {
	self := a.rep.LocalName()
	seen := map[string]bool{}
	for _, e := range a.rep.List(KindEndpoint) {
		if rec, ok := record.Decode[EndpointRec](e.Value); ok && rec.VNI == vni && e.Owner != self {
			seen[e.Owner] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// networksChanged tells whether the cluster's network definitions changed
// since the last call, so that the Docker loop runs only when it has work.
func (a *Agent) networksChanged() bool {
	h := fnv.New64a()
	for _, k := range NetworkKinds() {
		for _, e := range a.rep.List(k) {
			fmt.Fprintf(h, "%s/%s/%s/%d;", k, e.Key, e.Owner, e.Version)
		}
	}
	sum := h.Sum64()
	a.mu.Lock()
	defer a.mu.Unlock()
	changed := sum != a.netsSeen
	a.netsSeen = sum
	return changed
}
