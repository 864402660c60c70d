package ipalloc

import (
	"maps"
	"net/netip"
	"time"

	"go.etcd.io/bbolt"
)

// Leases and releases are written through the commit queue (commit.go) so
// that RequestAddress and ReleaseAddress wait for the disk without holding
// Allocator.mu. Until its write is on disk, a lease is already in memory
// (no one else can take the address) and a released address is still
// leased in memory (no one can take it again before its release is saved);
// a lease whose write fails is taken back. A caller answers Docker only
// once the write is on disk.

// queuedLease is a lease made in memory whose write is queued, with what
// it replaced, to undo it if the write fails.
type queuedLease struct {
	c         *commit
	p         *pool
	ip        netip.Addr
	l         lease
	prev      lease // the lease it replaced, if hadPrev (a borrowed address become own)
	hadPrev   bool
	rel       released // the address's entry in p.recent, if wasRecent
	wasRecent bool
}

// queueLease records lease l of ip in memory and queues its write. The
// write's values are taken now: it runs later, without a.mu.
func (a *Allocator) queueLease(p *pool, ip netip.Addr, l lease) *queuedLease {
	q := &queuedLease{p: p, ip: ip, l: l}
	q.prev, q.hadPrev = p.leases[ip]
	q.rel, q.wasRecent = p.recent[ip]
	id := p.id()
	var recent map[netip.Addr]released
	if q.wasRecent {
		recent = p.recentWithout(ip)
	}
	q.c = a.disk.q.enqueue("address "+ip.String(), func(tx *bbolt.Tx) error {
		if err := putLease(tx, id, ip, &l); err != nil || !q.wasRecent {
			return err
		}
		return putReleased(tx, id, recent)
	})
	p.add(ip, l)
	return q
}

// undo takes back a lease whose write failed, if nothing replaced it since.
// The caller holds a.mu.
func (q *queuedLease) undo() {
	if cur, ok := q.p.leases[q.ip]; !ok || cur != q.l {
		return
	}
	q.p.remove(q.ip)
	if q.hadPrev {
		q.p.add(q.ip, q.prev)
	}
	if q.wasRecent {
		q.p.recent[q.ip] = q.rel
	}
}

// settle waits, without a.mu, for a lease's write (nil: none) and takes
// the lease back if it failed.
func (a *Allocator) settle(q *queuedLease) error {
	if q == nil {
		return nil
	}
	err := a.disk.q.wait(q.c)
	if err != nil {
		a.mu.Lock()
		q.undo()
		a.mu.Unlock()
	}
	return err
}

// settleHeld is settle for a caller holding a.mu.
func (a *Allocator) settleHeld(q *queuedLease) error {
	if q == nil {
		return nil
	}
	err := a.disk.q.wait(q.c)
	if err != nil {
		q.undo()
	}
	return err
}

// releaseKey names an address of a pool whose release is being written.
type releaseKey struct {
	pool string
	ip   netip.Addr
}

// queueRelease queues the write of the release of ip, leased as l, and
// remembers it among the addresses released lately (a preference only: a
// still leased address is never handed back). The lease itself stays in
// memory until the write is on disk. A second release of the same address
// while the first is being written shares the first's write.
func (a *Allocator) queueRelease(p *pool, ip netip.Addr, l lease) (c *commit, first bool) {
	k := releaseKey{p.id(), ip}
	if c := a.releasing[k]; c != nil {
		return c, false
	}
	id := p.id()
	keep := rememberable(l)
	var recent map[netip.Addr]released // the write's own copy: p.recent changes under a.mu
	if keep {
		p.recent = p.remembering(ip, l, time.Now())
		recent = maps.Clone(p.recent)
	}
	c = a.disk.q.enqueue("address "+ip.String(), func(tx *bbolt.Tx) error {
		if err := putLease(tx, id, ip, nil); err != nil || !keep {
			return err
		}
		return putReleased(tx, id, recent)
	})
	a.releasing[k] = c
	return c, true
}
