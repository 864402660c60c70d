package ipalloc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"

	"go.etcd.io/bbolt"

	"github.com/weavego/weavego/internal/record"
)

// errClaimLost: a fresh subnet was claimed concurrently by another host.
var errClaimLost = errors.New("subnet claimed by another host")

// maxDefaultAttempts bounds how often a fresh subnet is picked again after
// losing it to a concurrent claim.
const maxDefaultAttempts = 4

// RequestPool opens a pool. The same subnet and range asked again (Docker
// does) return the same Pool and count one more reference; a request with
// no subnet gets a fresh /DefaultSubnetBits subnet of Config.Range that no
// host of the cluster uses. A new pool is claimed cluster-wide: when other
// hosts are reachable, the call waits (at most Config.SpaceTimeout) until
// each has seen the claim win.
func (a *Allocator) RequestPool(ctx context.Context, req PoolRequest) (Pool, error) {
	if req.Subnet == "" {
		return a.requestDefaultPool(ctx, req)
	}
	info, err := parsePoolRequest(req)
	if err != nil {
		return Pool{}, err
	}
	return a.openPool(ctx, info)
}

func (a *Allocator) requestDefaultPool(ctx context.Context, req PoolRequest) (Pool, error) {
	if req.IPRange != "" {
		return Pool{}, fmt.Errorf("an --ip-range needs --subnet: %w", ErrInvalidRequest)
	}
	setting, rng, bits, free := "IPALLOC_RANGE", a.allocRange, a.cfg.DefaultSubnetBits, a.freeSubnet
	if req.V6 {
		setting, rng, bits, free = "IPALLOC_RANGE6", a.range6, DefaultSubnetBits6, a.freeSubnet6
	}
	for range maxDefaultAttempts {
		a.mu.Lock()
		subnet, ok := free()
		a.mu.Unlock()
		if !ok {
			return Pool{}, fmt.Errorf("no free /%d subnet is left in %s %s: release a network or widen the range: %w",
				bits, setting, rng, ErrPoolExhausted)
		}
		info, _ := parsePoolRequest(PoolRequest{Subnet: subnet.String(), V6: req.V6})
		info.Default = true
		pl, err := a.openPool(ctx, info)
		if !errors.Is(err, errClaimLost) {
			return pl, err
		}
	}
	return Pool{}, fmt.Errorf("could not claim a free subnet of %s: other hosts claimed each one picked; try again: %w", rng, ErrNoSpace)
}

func parsePoolRequest(req PoolRequest) (poolInfo, error) {
	subnet, err := parsePrefix("subnet", req.Subnet)
	if err != nil {
		return poolInfo{}, err
	}
	if req.V6 != subnet.Addr().Is6() || subnet.Addr().Is4In6() {
		return poolInfo{}, fmt.Errorf("subnet %s is not an IPv%s subnet: %w", subnet, map[bool]string{false: "4", true: "6"}[req.V6], ErrInvalidRequest)
	}
	if subnet.Addr().BitLen()-subnet.Bits() < 2 {
		return poolInfo{}, fmt.Errorf("subnet %s is too small: it needs room for a gateway and an address: %w", subnet, ErrInvalidRequest)
	}
	rng := subnet
	if req.IPRange != "" {
		if rng, err = parsePrefix("ip-range", req.IPRange); err != nil {
			return poolInfo{}, err
		}
		if rng.Bits() < subnet.Bits() || !subnet.Contains(rng.Addr()) {
			return poolInfo{}, fmt.Errorf("ip-range %s is not inside subnet %s: %w", rng, subnet, ErrInvalidRequest)
		}
	}
	gw := subnet.Addr().Next()
	return poolInfo{Subnet: subnet.String(), Range: rng.String(), Gateway: gw.String()}, nil
}

// openPool references a local pool, joins one another host claimed, or
// claims a new one.
func (a *Allocator) openPool(ctx context.Context, info poolInfo) (Pool, error) {
	a.mu.Lock()
	p, claimed, err := a.openLocked(info)
	a.mu.Unlock()
	if err != nil || !claimed {
		return a.poolResult(p), err
	}
	if err := a.confirmClaim(ctx, info.Subnet, p.rec.Info.Nonce); err != nil {
		return Pool{}, err
	}
	return a.poolResult(p), nil
}

func (a *Allocator) openLocked(info poolInfo) (p *pool, claimed bool, err error) {
	if p := a.pools[info.Subnet]; p != nil && !info.Default {
		if p.rec.Info.Range != info.Range {
			return nil, false, fmt.Errorf("subnet %s is already used with ip-range %s; use the same --ip-range: %w", info.Subnet, p.rec.Info.Range, ErrPoolOverlap)
		}
		p.rec.Refs++
		return p, false, a.savePool(p)
	}
	if err := a.checkRanges(); err != nil {
		return nil, false, err
	}
	if err := a.checkOverlap(info); err != nil {
		return nil, false, err
	}
	if w, ok := a.winningClaim(info.Subnet); ok {
		if info.Default {
			return nil, false, errClaimLost
		}
		if w.Range != info.Range {
			return nil, false, fmt.Errorf("subnet %s is already used with ip-range %s on host %s; use the same --ip-range: %w", info.Subnet, w.Range, w.Seeder, ErrPoolOverlap)
		}
		p, err := a.addPool(poolRecord{Info: w, Refs: 1, Confirmed: true}, false)
		return p, false, err
	}
	info.Seeder, info.Nonce, info.Cluster = a.name, newNonce(), a.allocRange.String()
	if netip.MustParsePrefix(info.Subnet).Addr().Is6() {
		info.Cluster = a.range6.String()
	}
	p, err = a.addPool(poolRecord{Info: info, Refs: 1}, true)
	if err != nil {
		return nil, false, err
	}
	e := a.rep.Set(KindPool, info.Subnet, record.Encode(info))
	p.rec.Version = e.Version
	return p, true, a.savePool(p)
}

// addPool creates and saves a local pool; a seeder holds every block.
func (a *Allocator) addPool(rec poolRecord, seed bool) (*pool, error) {
	p, err := newPool(rec)
	if err != nil {
		return nil, err
	}
	err = a.update("pool "+p.id(), func(tx *bbolt.Tx) error {
		for b := 0; seed && b < p.sp.blocks(); b++ {
			p.ledger[b] = blockRec{Held: true}
			if err := putBlock(tx, p.id(), b, p.ledger[b]); err != nil {
				return err
			}
		}
		return putPool(tx, rec)
	})
	if err != nil {
		return nil, err
	}
	a.pools[p.id()] = p
	return p, nil
}

func (a *Allocator) savePool(p *pool) error {
	return a.update("pool "+p.id(), func(tx *bbolt.Tx) error { return putPool(tx, p.rec) })
}

// winningClaim returns the live pool entry for subnet written by another
// host (or by an earlier life of this one that this host no longer has).
func (a *Allocator) winningClaim(subnet string) (poolInfo, bool) {
	e, ok := a.rep.Get(KindPool, subnet)
	if !ok {
		return poolInfo{}, false
	}
	info, ok := decode[poolInfo](e)
	return info, ok && info.Seeder != a.name
}

func (a *Allocator) poolResult(p *pool) Pool {
	if p == nil {
		return Pool{}
	}
	out := Pool{ID: p.id(), Subnet: p.sp.subnet, Gateway: netip.PrefixFrom(p.gw, p.sp.subnet.Bits())}
	if p.rec.Info.Range != p.rec.Info.Subnet {
		out.IPRange = netip.MustParsePrefix(p.rec.Info.Range)
	}
	return out
}

func newNonce() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
