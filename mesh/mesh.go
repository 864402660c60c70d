package mesh

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// maxGossipBytes is the largest message queued for UDP gossip. memberlist
// fits gossip in 1,400-byte packets, less label, encryption and compound
// headers; a larger message would never fit and stay queued for ever, so
// it is sent over TCP to every member instead.
const maxGossipBytes = 1200

var errNotState = errors.New("message is not a full state")

// Mesh is this host's membership in the weavego cluster and its replica of
// the entry map. All methods are safe for concurrent use.
type Mesh struct {
	cfg   Config
	name  string
	log   *slog.Logger
	list  *memberlist.Memberlist
	queue *memberlist.TransmitLimitedQueue
	store *store
	peers *peerTable
	subs  *subscribers
	stats counters
	// stayOnStop: Run stops without leaving (StayOnStop).
	stayOnStop atomic.Bool
	// legacyDone: this peer's records without a write identity were
	// written anew, after its first full state from another peer.
	legacyDone atomic.Bool
	// lastOffer is when this peer last offered its summary (offer.go), in
	// Unix nanoseconds.
	lastOffer atomic.Int64
	// ring holds the gossip keys; nil for an open cluster.
	ring *memberlist.Keyring
	// direct sends entries too large for gossip over TCP; Close stops it.
	direct *directSender
	admit  *admission
	// targets are the addresses Run joins (configured and Connect'ed).
	targets *joinTargets
	// sync runs sync by difference (sync.go); outbox sends its requests
	// and answers; protos tells whether every member reads summaries.
	sync   *syncer
	outbox *outbox
	protos protocols

	// lifeMu guards closed and is held across memberlist's Leave, so
	// that Leave never follows Close (memberlist panics on Leave after
	// Shutdown). Memberlist callbacks never take it.
	lifeMu sync.Mutex
	closed bool
}

// New creates the memberlist, binds its TCP and UDP listeners and returns
// a Mesh that knows only itself. Call Run to join the configured peers.
func New(cfg Config) (*Mesh, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m := &Mesh{
		cfg:   cfg,
		name:  cfg.Name,
		log:   cfg.Logger.With("component", "mesh"),
		store: newStore(cfg.TombstoneTTL),
		peers: newPeerTable(cfg.Name, cfg.suspicionTimeout(64)),
		subs:  newSubscribers(),
	}
	m.targets = newJoinTargets(normalizedPeers(cfg.Peers))
	m.admit = newAdmission(cfg, m.log)
	m.sync = newSyncer(m.store, m.admit)
	m.store.limits = cfg.ownerLimits()
	m.store.self, m.store.maxBytes = cfg.Name, cfg.MaxMapBytes
	m.queue = &memberlist.TransmitLimitedQueue{
		NumNodes:       m.peers.members,
		RetransmitMult: memberlist.DefaultLANConfig().RetransmitMult,
	}
	ring, err := newKeyring(cfg.Keys)
	if err != nil {
		return nil, err
	}
	m.ring = ring
	bridge := newLogBridge(cfg.Logger, m.peerSuspect)
	mc := cfg.memberlistConfig(&delegate{m: m}, bridge, ring)
	if mc.Transport, err = m.newTransport(mc, bridge); err != nil {
		return nil, err
	}
	list, err := memberlist.Create(mc)
	if err != nil {
		_ = mc.Transport.Shutdown()
		return nil, fmt.Errorf("start gossip for peer %s on %s:%d: %w", cfg.Name, cfg.BindAddr, cfg.BindPort, err)
	}
	m.list = list
	m.direct = newDirectSender(maxDirectQueue, m.sendToMembers)
	m.outbox = newOutbox(m.sendTo)
	local := list.LocalNode()
	m.log.Info("mesh listening", "peer", m.name, "addr", local.Address(),
		"encrypted", ring != nil, "key_rollout", string(cfg.KeyRollout))
	return m, nil
}

// newTransport binds gossip's listeners behind the guard (guard.go) and
// sets mc's ports to the ones bound.
func (m *Mesh) newTransport(mc *memberlist.Config, bridge *logBridge) (*guardedTransport, error) {
	keys := func() [][]byte { return nil }
	plainOK := true
	if m.ring != nil {
		keys = m.ring.GetKeys
		plainOK = !mc.GossipVerifyIncoming
	}
	guard := newStreamGuard(guardLimits{maxStream: m.cfg.MaxStreamBytes}, mc.Label, keys, plainOK,
		func(reason string, from netip.Addr) {
			m.stats.streamsRefused.Add(1)
			bridge.streamRefused(reason, from.String(), time.Now())
		})
	t, err := newGuardedTransport(mc.BindAddr, mc.BindPort, mc.Logger, guard, m.peers.memberAddr,
		func(from netip.Addr) {
			m.stats.packetsDropped.Add(1)
			bridge.packetDropped(from.String(), time.Now())
		})
	if err != nil {
		return nil, fmt.Errorf("start gossip for peer %s: %w", m.name, err)
	}
	if mc.BindPort == 0 {
		mc.BindPort = t.GetAutoBindPort()
		mc.AdvertisePort = mc.BindPort
	}
	return t, nil
}

// Close stops gossip at once without telling the other peers, as a crash
// would; they will declare this peer dead. Run calls it after leaving.
// Close is idempotent.
func (m *Mesh) Close() error {
	m.lifeMu.Lock()
	m.closed = true
	m.lifeMu.Unlock()
	err := m.list.Shutdown()
	m.direct.close()
	m.outbox.close()
	if err != nil {
		return fmt.Errorf("shut down gossip for peer %s: %w", m.name, err)
	}
	return nil
}

// LocalName returns this peer's name.
func (m *Mesh) LocalName() string { return m.name }

// Peers returns every peer seen, this one included, sorted by name. Dead
// and left peers stay listed for TombstoneTTL after they went away.
func (m *Mesh) Peers() []Peer { return m.peers.list(time.Now()) }

// Alive reports whether name is a member: alive or suspect, not dead or
// left.
func (m *Mesh) Alive(name string) bool { return m.peers.member(name) }

// Members returns the number of alive or suspect members, this one included.
func (m *Mesh) Members() int { return m.peers.members() }

// Subscribe returns a channel that receives a signal after any change of
// an entry or of membership, and a function that unsubscribes and closes
// the channel. Signals coalesce: a consumer that is busy gets one signal
// for many changes, so it should re-read the state it needs (List, Peers)
// on each signal rather than count them.
func (m *Mesh) Subscribe() (<-chan struct{}, func()) { return m.subs.add() }

// Stats returns the current counters.
func (m *Mesh) Stats() Stats {
	live, dead := m.store.counts()
	return Stats{
		Entries:          live,
		Tombstones:       dead,
		Members:          m.peers.members(),
		BroadcastsQueued: m.stats.queued.Load(),
		BroadcastsSent:   m.stats.sent.Load(),
		MergesApplied:    m.stats.applied.Load(),
		MergesIgnored:    m.stats.ignored.Load(),
		BytesReceived:    m.stats.bytes.Load(),
		DecodeErrors:     m.stats.decodeErrs.Load(),
		TombstonesReaped: m.stats.reaped.Load(),
		DirectQueued:     m.direct.queued(),
		DirectDropped:    m.direct.dropped.Load(),
		BroadcastsPruned: m.stats.pruned.Load(),
		Rejected:         m.stats.rejected.Load(),
		NotUnderstood:    m.stats.notUnderstood.Load(),
		StreamsRefused:   m.stats.streamsRefused.Load(),
		PacketsDropped:   m.stats.packetsDropped.Load(),
		Stale:            m.stats.stale.Load(),
		SyncRequests:     m.stats.syncRequests.Load(),
		SyncChunksSent:   m.stats.syncChunks.Load(),
		SyncRecordsSent:  m.stats.syncRecords.Load(),
		SyncDropped:      m.stats.syncDropped.Load(),
		SyncUnasked:      m.stats.syncUnasked.Load(),
		SyncRelayed:      m.stats.syncRelayed.Load(),
		SyncOffers:       m.stats.syncOffers.Load(),
	}
}

// SyncProgress returns what this peer's exchanges of sync by difference
// still await (nothing once it holds what its peers showed it).
func (m *Mesh) SyncProgress() SyncProgress { return m.sync.progress(time.Now()) }

// peerSuspect is called by the log bridge when our probe of name failed.
func (m *Mesh) peerSuspect(name string) {
	if m.peers.suspect(name, time.Now()) {
		m.log.Debug("peer suspect", "peer", name)
		m.subs.notify()
	}
}

// peerBye handles a peer's announcement that it is leaving.
func (m *Mesh) peerBye(name string) {
	m.log.Debug("peer says it is leaving", "peer", name)
	if m.peers.bye(name, time.Now()) {
		m.subs.notify()
	}
}
