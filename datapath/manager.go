package datapath

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// ErrNetworkNotFound is returned when an operation needs the devices of a
// network that EnsureNetwork has not created (or that were deleted).
var ErrNetworkNotFound = errors.New("weavego network not found in the kernel")

// netlinkOps is the part of *netlink.Handle the package uses.
type netlinkOps interface {
	LinkByName(name string) (netlink.Link, error)
	LinkList() ([]netlink.Link, error)
	LinkAdd(link netlink.Link) error
	LinkDel(link netlink.Link) error
	LinkSetUp(link netlink.Link) error
	LinkSetMTU(link netlink.Link, mtu int) error
	LinkSetMaster(link netlink.Link, master netlink.Link) error
	LinkSetAlias(link netlink.Link, name string) error
	LinkSetHardwareAddr(link netlink.Link, hwaddr net.HardwareAddr) error
	AddrList(link netlink.Link, family int) ([]netlink.Addr, error)
	AddrReplace(link netlink.Link, addr *netlink.Addr) error
	AddrDel(link netlink.Link, addr *netlink.Addr) error
	NeighList(linkIndex, family int) ([]netlink.Neigh, error)
	NeighSet(neigh *netlink.Neigh) error
	NeighAppend(neigh *netlink.Neigh) error
	NeighDel(neigh *netlink.Neigh) error
	RouteList(link netlink.Link, family int) ([]netlink.Route, error)
	RouteGet(destination net.IP) ([]netlink.Route, error)
	RouteReplace(route *netlink.Route) error
	RouteDel(route *netlink.Route) error
	LinkSetNsFd(link netlink.Link, fd int) error
	LinkSetIP6AddrGenMode(link netlink.Link, mode int) error
}

var _ netlinkOps = (*netlink.Handle)(nil)

// Config configures a Manager.
type Config struct {
	// Handle is the netlink handle to work through; nil means a new handle
	// in the current network namespace, closed by Close. A given handle is
	// never closed by the Manager.
	Handle *netlink.Handle
	// NetNS is the namespace for the nftables connection; 0 means current.
	// It must be the namespace of Handle.
	NetNS netns.NsHandle
	// Logger receives debug and warning messages; nil discards them, as in every package.
	Logger *slog.Logger
	// NSDir is the directory where the namespace of each network is pinned
	// (a bind mount named by the network ID); "" means DefaultNSDir. It
	// must outlive a crash of the process (the plugin's propagated mount);
	// before a stop that takes it away, Park moves the networks out.
	NSDir string
	// DNSPort, GossipPort and VXLANPort are the host ports the input
	// firewall is about (see the package comment); zero means the default.
	DNSPort, GossipPort, VXLANPort int
	// VTEP is the host's underlay address, where the other members send
	// VXLAN: the input rules drop VXLAN to any other address of the host
	// (the kernel's VXLAN socket takes datagrams to every local address).
	// Invalid means unknown: no such rule.
	VTEP netip.Addr
	// WireGuardPort, EncryptedVXLANPort and WireGuardDevice are those of
	// the host's tunnel (package tunnel): the input rules take encrypted
	// networks' VXLAN only from that device. Zero: no encryption.
	WireGuardPort, EncryptedVXLANPort int
	WireGuardDevice                   string
}

// Manager makes the kernel match the desired state of weavego networks.
// Its methods are safe for concurrent use; they are serialised.
type Manager struct {
	nl      netlinkOps
	nft     *nftables.Conn
	log     *slog.Logger
	closeNL func()

	input inputSpec
	nsDir string
	// hostNS is Config.NetNS: the host namespace, 0 for this process's.
	hostNS netns.NsHandle

	// mu serialises kernel changes and guards nets, remotes, paths,
	// directFilters and vxlanPeers.
	mu sync.Mutex
	// nets are the namespaces of networks opened so far, by network ID.
	nets map[string]*netNS
	// remotes is the last desired remote state per network ID, re-applied
	// when EnsureNetwork has to recreate a VXLAN device.
	remotes map[string]remoteState
	// paths is, per direct network ID, the path to each peer VTEP that
	// the last SetRemotes chose (remotes_direct.go).
	paths map[string]map[netip.Addr]string
	// directFilters is, per direct network ID, the key of the ingress
	// filter last written (direct_filter.go).
	directFilters map[string]string
	// vxlanPeers is the last allowlist given to SetVXLANPeers, written
	// into the sets whenever they have to be created again.
	vxlanPeers []netip.Addr

	// pendMu guards pendingDeletes and closed, so that DeleteEndpointAsync
	// need not wait for mu, which a delete holds for tens of milliseconds.
	// Lock order: mu, then pendMu.
	pendMu sync.Mutex
	// pendingDeletes are the endpoints whose veth pair DeleteEndpointAsync
	// is to delete, with their network IDs (endpoint_async.go).
	pendingDeletes map[string]string
	// closed is set by Close; background deletes do nothing after it.
	closed bool
	// deletes tracks the goroutines of DeleteEndpointAsync.
	deletes sync.WaitGroup
}

// New returns a Manager working in the namespace of cfg.Handle.
func New(cfg Config) (*Manager, error) {
	m := &Manager{log: cfg.Logger, remotes: map[string]remoteState{}, closeNL: func() {}, nets: map[string]*netNS{},
		paths: map[string]map[netip.Addr]string{}, directFilters: map[string]string{},
		pendingDeletes: map[string]string{},
		nsDir:          cmp.Or(cfg.NSDir, DefaultNSDir), hostNS: cfg.NetNS,
		input: inputSpec{dns: port(cfg.DNSPort, DefaultDNSPort), gossip: port(cfg.GossipPort, DefaultGossipPort),
			vxlan: port(cfg.VXLANPort, DefaultVXLANPort), vtep: cfg.VTEP.Unmap(),
			wireguard: uint16(cfg.WireGuardPort), encVXLAN: uint16(cfg.EncryptedVXLANPort), wgDevice: cfg.WireGuardDevice}}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	h := cfg.Handle
	if h == nil {
		var err error
		if h, err = netlink.NewHandle(); err != nil {
			return nil, fmt.Errorf("open netlink handle: %w", err)
		}
		m.closeNL = h.Close
	}
	m.nl = h
	conn, err := nftables.New(nftables.WithNetNSFd(int(cfg.NetNS)))
	if err != nil {
		m.closeNL()
		return nil, fmt.Errorf("open nftables connection: %w", err)
	}
	m.nft = conn
	return m, nil
}

// Close waits a little for the background deletes of veth pairs (what is
// left is swept at the next start), then releases the netlink handles the
// Manager opened. Kernel state stays, namespaces included.
func (m *Manager) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeWait)
	defer cancel()
	if err := m.WaitDeletes(ctx); err != nil {
		m.log.Warn("closing with veth pairs not yet deleted; the next start sweeps them", "err", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pendMu.Lock()
	m.closed = true
	m.pendMu.Unlock()
	for id, n := range m.nets {
		n.release()
		delete(m.nets, id)
	}
	m.closeNL()
	return nil
}

// NetworkIDs returns the IDs of the weavego networks present in the kernel,
// for garbage collection after a restart: those with a pinned namespace
// (full Docker IDs) and those of an earlier weavego whose bridge is still in
// the host namespace (the full ID when the bridge's alias holds it, else the
// 11-character prefix in the bridge's name; BridgeName maps both to the same
// bridge).
func (m *Manager) NetworkIDs() ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids, _, err := m.pinnedIDs()
	if err != nil {
		return nil, err
	}
	host, err := m.hostBridgeIDs()
	if err != nil {
		return nil, err
	}
	return sortedUnique(append(ids, host...)), nil
}

// linkByName returns the link or nil when it does not exist.
func linkByName(nl netlinkOps, name string) (netlink.Link, error) {
	l, err := nl.LinkByName(name)
	if err == nil {
		return l, nil
	}
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil, nil
	}
	return nil, fmt.Errorf("look up link %s: %w", name, err)
}

// deleteLink removes the link named name if it exists.
func deleteLink(nl netlinkOps, name string) error {
	l, err := linkByName(nl, name)
	if err != nil || l == nil {
		return err
	}
	if err := nl.LinkDel(l); err != nil {
		return fmt.Errorf("delete link %s: %w", name, err)
	}
	return nil
}
