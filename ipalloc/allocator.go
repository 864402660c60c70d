package ipalloc

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"go.etcd.io/bbolt"

	"github.com/weavego/weavego/internal/record"
)

// Allocator allocates addresses for weavego networks, unique across the
// cluster. It is safe for concurrent use. Create it with New and, when it has
// a ClusterMap, keep Run going: Run answers other hosts' requests for space.
type Allocator struct {
	cfg        Config
	name       string
	allocRange netip.Prefix // Config.Range, parsed
	range6     netip.Prefix // Config.Range6, parsed
	rep        ClusterMap
	disk       disk
	log        *slog.Logger

	// mu guards pools, problems, down and releasing, and every *pool reachable from
	// pools. It is held across bbolt transactions (so the saved state follows
	// the in-memory one in order) and across calls to rep; rep never calls
	// back into the Allocator, so the lock order is mu, then rep's own lock.
	// It is never held while waiting for other hosts.
	mu       sync.Mutex
	pools    map[string]*pool
	problems map[string]string    // by subject, for Status
	down     map[string]time.Time // when a peer was first seen unreachable
	// releasing holds the writes of releases on their way to disk
	// (leasewrite.go), so that a repeated release shares the first's.
	releasing map[releaseKey]*commit
}

// New opens the allocator's state in db (creating its buckets on first use)
// and joins the cluster through rep (a *mesh.Mesh; tests give a
// meshtest peer).
// Saved state that is unreadable, belongs to another host or was made with
// another Config.Range is reported (ErrCorruptState, ErrRangeMismatch) and
// left untouched.
func New(cfg Config, db *bbolt.DB, rep ClusterMap) (*Allocator, error) {
	cfg, err := withDefaults(cfg)
	if err != nil {
		return nil, err
	}
	if rep == nil {
		return nil, errors.New("ipalloc: New needs a replica of the cluster map")
	}
	a := &Allocator{cfg: cfg, name: rep.LocalName(), rep: rep, disk: disk{db: db, q: newCommitter(db)}, log: cfg.Logger,
		pools: map[string]*pool{}, problems: map[string]string{}, down: map[string]time.Time{},
		releasing: map[releaseKey]*commit{}}
	a.allocRange, _ = netip.ParsePrefix(cfg.Range)
	a.allocRange = a.allocRange.Masked()
	a.range6 = netip.MustParsePrefix(cfg.Range6) // checked by withDefaults
	if err := a.disk.init(a.name, a.allocRange.String()); err != nil {
		return nil, fmt.Errorf("open allocator state for host %s: %w", a.name, err)
	}
	sv, err := a.disk.load()
	if err != nil {
		return nil, fmt.Errorf("load allocator state for host %s: %w", a.name, err)
	}
	now := time.Now()
	for id, rec := range sv.pools {
		p, err := restorePool(rec, sv.blocks[id], sv.leases[id])
		if err != nil {
			return nil, fmt.Errorf("load allocator state for host %s: %w", a.name, err)
		}
		p.restoreReleased(sv.released[id], now)
		a.pools[id] = p
	}
	for _, id := range sv.skipped {
		a.log.Warn("saved addresses released lately are unreadable; they are not handed back", "pool", id)
	}
	a.rep.Set(KindHost, a.name, record.Encode(hostInfo{Range: a.allocRange.String(), Range6: a.range6.String()}))
	return a, nil
}

func withDefaults(cfg Config) (Config, error) {
	if cfg.Range == "" {
		cfg.Range = DefaultRange
	}
	if cfg.Range6 == "" {
		cfg.Range6 = DefaultRange6
	}
	if cfg.DefaultSubnetBits == 0 {
		cfg.DefaultSubnetBits = DefaultSubnetBits
	}
	if cfg.SpaceTimeout <= 0 {
		cfg.SpaceTimeout = DefaultSpaceTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r, err := netip.ParsePrefix(cfg.Range)
	if err != nil || !r.Addr().Is4() {
		return cfg, fmt.Errorf("IPALLOC_RANGE %q is not an IPv4 CIDR such as %s: %w", cfg.Range, DefaultRange, ErrInvalidRequest)
	}
	if cfg.DefaultSubnetBits < r.Bits() || cfg.DefaultSubnetBits > 30 {
		return cfg, fmt.Errorf("default subnet size /%d does not fit in IPALLOC_RANGE %s: %w", cfg.DefaultSubnetBits, cfg.Range, ErrInvalidRequest)
	}
	if err := CheckRange6(cfg.Range6); err != nil {
		return cfg, fmt.Errorf("IPALLOC_RANGE6: %w: %w", err, ErrInvalidRequest)
	}
	return cfg, nil
}

// restorePool rebuilds a pool from saved state, checking every lease lies
// in the pool.
func restorePool(rec poolRecord, blocks map[int]blockRec, leases map[netip.Addr]lease) (*pool, error) {
	p, err := newPool(rec)
	if err != nil {
		return nil, err
	}
	for b, r := range blocks {
		if b < 0 || b >= p.sp.blocks() {
			return nil, fmt.Errorf("pool %s: saved block %d is outside the pool: %w", p.id(), b, ErrCorruptState)
		}
		p.ledger[b] = r
	}
	for ip, l := range leases {
		if _, ok := p.blockOfAddr(ip); !ok || p.reserved(ip) {
			return nil, fmt.Errorf("pool %s: saved address %s is outside the pool's range: %w", p.id(), ip, ErrCorruptState)
		}
		p.add(ip, l) // a lease in a block taken over by rmpeer is kept and reported by Sync
	}
	return p, nil
}

// update runs fn in a bbolt write transaction, naming what for errors, and
// returns once it is on disk. Callers hold a.mu; the transaction may be
// shared with other writes queued before it (commit.go).
func (a *Allocator) update(what string, fn func(tx *bbolt.Tx) error) error {
	return a.disk.q.wait(a.disk.q.enqueue(what, fn))
}

// problem records (msg != "") or clears a problem shown in Status.
func (a *Allocator) problem(subject, msg string) {
	if msg == "" {
		delete(a.problems, subject)
		return
	}
	if a.problems[subject] != msg {
		a.log.Warn(msg, "subject", subject)
	}
	a.problems[subject] = msg
}
