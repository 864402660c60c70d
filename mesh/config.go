package mesh

import (
	"errors"
	"fmt"
	"log"
	"log/slog"
	"math"
	"net/netip"
	"time"

	"github.com/hashicorp/memberlist"
)

// DefaultPort is the TCP and UDP port weavego peers gossip on. It is not
// memberlist's 7946, so weavego never joins another memberlist cluster
// (Docker swarm, Consul) on the same hosts by mistake.
const DefaultPort = 6783

// Timing defaults, chosen for a LAN; see the package comment for the bounds
// they give.
const (
	// DefaultProbeInterval is the time between failure-detection probes.
	DefaultProbeInterval = 500 * time.Millisecond
	// DefaultProbeTimeout is the wait for a probe's ack, well above LAN RTT.
	DefaultProbeTimeout = 250 * time.Millisecond
	// DefaultSuspicionMult gives a suspicion timeout of 1.5 s (3 s without
	// a confirming peer) for up to 10 hosts.
	DefaultSuspicionMult = 3
	// DefaultPushPullInterval is the time between full-state syncs.
	DefaultPushPullInterval = 10 * time.Second
	// DefaultGossipInterval is the time between gossip rounds.
	DefaultGossipInterval = 200 * time.Millisecond
	// DefaultTombstoneTTL is how long deletes are remembered.
	DefaultTombstoneTTL = 10 * time.Minute

	// suspicionMaxTimeoutMult caps the suspicion timeout at twice its
	// minimum when no other peer confirms the suspicion.
	suspicionMaxTimeoutMult = 2
	// gossipLabel is put on every packet and stream; memberlist drops
	// traffic with another label before decoding it.
	gossipLabel = "weavego"
)

// ErrInvalidConfig is wrapped by New when a Config field has a value that
// cannot work; the message names the field.
var ErrInvalidConfig = errors.New("invalid mesh configuration")

// Config configures a Mesh. Zero fields take the documented defaults.
type Config struct {
	// Name is this peer's stable, cluster-unique name. Required.
	Name string
	// BindAddr is the address to listen on; default AdvertiseAddr when
	// set, else "0.0.0.0". Binding the underlay address keeps gossip out
	// of reach of containers, which reach the host at their gateways.
	BindAddr string
	// BindPort is the TCP and UDP port to listen on; default DefaultPort.
	// Use -1 to let the kernel choose a free port (tests).
	BindPort int
	// AdvertiseAddr is this host's underlay IP as other peers must reach
	// it. The caller resolves the default; the zero Addr lets memberlist pick the
	// first private address of the host.
	AdvertiseAddr netip.Addr
	// Peers lists "host[:port]" addresses to join; the port defaults to
	// DefaultPort. Listing this host itself is harmless.
	Peers []string
	// Keys, when not empty, encrypt and authenticate all gossip with
	// AES-GCM; the first is the primary key (used to send), all are tried
	// to receive. Each key is 16, 24 or 32 bytes. Peers without a shared
	// key cannot join, and the log says so. Empty means an open cluster.
	Keys [][]byte
	// KeyRollout relaxes the checks for moving an open cluster to a key
	// without downtime; see Rollout. Zero is strict.
	KeyRollout Rollout
	// Logger receives mesh's and memberlist's logs; default discards.
	Logger *slog.Logger
	// TombstoneTTL is how long a deleted entry is remembered after each
	// peer stored it (by that peer's clock); default DefaultTombstoneTTL.
	TombstoneTTL time.Duration
	// ProbeInterval is the time between failure-detection probes;
	// default DefaultProbeInterval.
	ProbeInterval time.Duration
	// ProbeTimeout is how long a probe waits for an ack; default
	// DefaultProbeTimeout. Keep it above the LAN's 99th percentile RTT.
	ProbeTimeout time.Duration
	// SuspicionMult scales how long a suspect peer has to refute before
	// it is declared dead; default DefaultSuspicionMult.
	SuspicionMult int
	// PushPullInterval is the time between full-state syncs with a
	// random peer; default DefaultPushPullInterval.
	PushPullInterval time.Duration
	// GossipInterval is the time between gossip rounds; default
	// DefaultGossipInterval.
	GossipInterval time.Duration

	// Validators is the registry of kinds this cluster uses: each record
	// from another peer or from Restore that fits mesh's generic bounds
	// (see MaxKeyBytes and the other limits) is passed to the validator of
	// its kind, and admitted only if it returns nil; a record of a kind
	// not listed is rejected. A validator is also given tombstones (nil
	// Value; check the key) and must not modify or keep the entry's
	// Value. nil admits every kind (tests).
	Validators map[string]func(Entry) error
	// OwnerMaxEntries caps the entries (tombstones included) one owner may
	// hold in this peer's map; default DefaultOwnerMaxEntries. A record
	// that would exceed it is rejected.
	OwnerMaxEntries int
	// OwnerMaxBytes caps the bytes of kinds, keys and values one owner
	// may hold; default DefaultOwnerMaxBytes.
	OwnerMaxBytes int
	// MaxStreamBytes is the largest encrypted gossip stream read before
	// it is authenticated, a full state included; default
	// DefaultMaxStreamBytes. See guard.go.
	MaxStreamBytes int
	// MaxMapBytes caps the bytes of kinds, keys and values of the whole
	// map, whoever the owners; default DefaultMaxMapBytes. A record that
	// would exceed it is rejected and the log names the owner holding the
	// most. It bounds a member that writes under many owner names.
	MaxMapBytes int
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.BindAddr == "" {
		c.BindAddr = "0.0.0.0"
		if c.AdvertiseAddr.IsValid() {
			c.BindAddr = c.AdvertiseAddr.String()
		}
	}
	if c.BindPort == 0 {
		c.BindPort = DefaultPort
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.MaxMapBytes == 0 {
		c.MaxMapBytes = DefaultMaxMapBytes
	}
	if c.SuspicionMult == 0 {
		c.SuspicionMult = DefaultSuspicionMult
	}
	def(&c.TombstoneTTL, DefaultTombstoneTTL)
	def(&c.ProbeInterval, DefaultProbeInterval)
	def(&c.ProbeTimeout, DefaultProbeTimeout)
	def(&c.PushPullInterval, DefaultPushPullInterval)
	def(&c.GossipInterval, DefaultGossipInterval)
	return c
}

func (c Config) validate() error {
	switch {
	case c.Name == "":
		return fmt.Errorf("%w: Name is empty", ErrInvalidConfig)
	case c.BindPort < -1 || c.BindPort > 65535:
		return fmt.Errorf("%w: BindPort %d is out of range", ErrInvalidConfig, c.BindPort)
	case c.TombstoneTTL < 0, c.ProbeInterval < 0, c.ProbeTimeout < 0,
		c.PushPullInterval < 0, c.GossipInterval < 0, c.SuspicionMult < 0:
		return fmt.Errorf("%w: durations and multipliers must not be negative", ErrInvalidConfig)
	case c.KeyRollout != RolloutStrict && len(c.Keys) == 0:
		return fmt.Errorf("%w: KeyRollout %q needs a key", ErrInvalidConfig, c.KeyRollout)
	case c.ProbeTimeout >= c.ProbeInterval:
		return fmt.Errorf("%w: ProbeTimeout %s must be shorter than ProbeInterval %s",
			ErrInvalidConfig, c.ProbeTimeout, c.ProbeInterval)
	}
	if err := c.KeyRollout.validate(); err != nil {
		return err
	}
	for _, k := range c.Keys {
		if err := memberlist.ValidateKey(k); err != nil {
			return fmt.Errorf("%w: a key is %d bytes, want 16, 24 or 32", ErrInvalidConfig, len(k))
		}
	}
	for _, p := range c.Peers {
		if _, err := peerAddr(p); err != nil {
			return fmt.Errorf("%w: peer %q: %w", ErrInvalidConfig, p, err)
		}
	}
	return nil
}

// memberlistConfig translates c (with defaults applied) for memberlist;
// ring is nil for an open cluster.
func (c Config) memberlistConfig(d *delegate, logw *logBridge, ring *memberlist.Keyring) *memberlist.Config {
	mc := memberlist.DefaultLANConfig()
	mc.Name = c.Name
	mc.BindAddr = c.BindAddr
	mc.BindPort = max(c.BindPort, 0)
	mc.AdvertisePort = mc.BindPort
	if c.AdvertiseAddr.IsValid() {
		mc.AdvertiseAddr = c.AdvertiseAddr.String()
	}
	mc.Label = gossipLabel
	mc.Keyring = ring
	mc.GossipVerifyIncoming, mc.GossipVerifyOutgoing = c.KeyRollout.verify()
	mc.ProbeInterval = c.ProbeInterval
	mc.ProbeTimeout = c.ProbeTimeout
	mc.SuspicionMult = c.SuspicionMult
	mc.SuspicionMaxTimeoutMult = suspicionMaxTimeoutMult
	mc.PushPullInterval = c.PushPullInterval
	mc.GossipInterval = c.GossipInterval
	mc.GossipToTheDeadTime = 3 * c.PushPullInterval
	// Gossip packets are small and bounded by the UDP packet size, so
	// compression saves little, while memberlist's LZW allocates fresh
	// tables for every message: with it, 250 members in one process spent
	// most of two cores on compression and garbage collection (make bench).
	// Compressed messages are still read, so a rolling upgrade mixes both.
	mc.EnableCompression = false
	mc.TCPTimeout = 5 * time.Second
	// A host that comes back with a new underlay address under the same
	// name may take its name back once it has been dead this long.
	mc.DeadNodeReclaimTime = 30 * time.Second
	mc.Delegate = d
	mc.Events = d
	mc.Ping = d
	// Format 3 (write identities, summaries): this release speaks
	// protocol 1 and understands up to 2, so that the next release can
	// move to 2 (sync by difference) while this one is still a member.
	mc.DelegateProtocolVersion, mc.DelegateProtocolMin, mc.DelegateProtocolMax = 1, 1, 2
	mc.Logger = log.New(logw, "", 0)
	return mc
}

// suspicionTimeout is memberlist's time from first suspicion to "dead"
// for a cluster of n peers when no other peer confirms the suspicion.
func (c Config) suspicionTimeout(n int) time.Duration {
	scale := math.Max(1, math.Log10(math.Max(1, float64(n))))
	base := time.Duration(float64(c.SuspicionMult) * scale * float64(c.ProbeInterval))
	return suspicionMaxTimeoutMult * base
}

// detectionBound is how long after a peer stops answering the others
// declare it dead, for a cluster of n peers, in the usual case that one of
// the n-1 survivors probes it within its first two probe rounds: two probe
// intervals to be probed, one to fail the probe, the unconfirmed suspicion
// timeout, and a few gossip rounds to spread the verdict.
func (c Config) detectionBound(n int) time.Duration {
	return 3*c.ProbeInterval + c.suspicionTimeout(n) + 3*c.GossipInterval
}

// DeadBounds derives, for a cluster of n hosts on the default timings, how
// long after a host stops answering every other host has declared it dead:
// three probe intervals until a probe of it has failed (see detectionBound),
// the suspicion timeout, and spread, the time a gossiped message takes to
// reach every host (measure it: mesh/meshsim). fast is with a second peer
// confirming the suspicion (memberlist expects SuspicionMult-2 = 1
// confirmation and then waits the minimum, 3 x max(1, log10 n) probe
// intervals); slow without one (twice that). Derived, not measured.
func DeadBounds(n int, spread time.Duration) (fast, slow time.Duration) {
	c := Config{}.withDefaults()
	slow = c.suspicionTimeout(n)
	return 3*c.ProbeInterval + slow/suspicionMaxTimeoutMult + spread, 3*c.ProbeInterval + slow + spread
}
