package ipalloc

import (
	"strconv"

	"github.com/weavego/weavego/internal/record"
	"github.com/weavego/weavego/mesh"
)

// Replicated entry kinds. Every entry has exactly one writer at a time:
// host and ack entries are written by the host they name, a pool entry by
// its seeder, a block entry by the block's current holder (a handover is the
// holder's last write), want and used entries by the asking or using host.
// The only exception is RemovePeer, an operator's statement that a host is
// gone for good.
const (
	KindHost    = "ipalloc.host"    // key host: hostInfo
	KindPool    = "ipalloc.pool"    // key pool: poolInfo
	KindAck     = "ipalloc.ack"     // key pool|host: ackInfo
	KindBlock   = "ipalloc.block"   // key pool|nonce|block: blockInfo
	KindWant    = "ipalloc.want"    // key pool|host: wantInfo
	KindUsed    = "ipalloc.used"    // key pool|host: usedInfo
	KindRemoved = "ipalloc.removed" // key host: removedInfo
	KindLend    = "ipalloc.lend"    // key pool|address: lendInfo, deleted by the borrower
)

// hostInfo is what a host announces of its settings. Range6 is absent
// from hosts of releases before IPv6 (they ignore it in others' entries).
type hostInfo struct {
	Range  string
	Range6 string `json:",omitempty"`
}

// ackInfo is a host's statement of which claim of a pool it saw win.
type ackInfo struct{ Seeder, Nonce string }

type blockInfo struct{ Holder string }

// wantInfo asks holders of a pool for a block: Block >= 0 for the block
// holding the static address IP, -1 for any.
type wantInfo struct {
	Nonce string
	Req   string // one per waiting request
	Block int
	IP    string `json:",omitempty"`
	// Reserve marks a background request for this host's reserve: no
	// container waits for it, so only a host with space to spare answers.
	Reserve bool `json:",omitempty"`
}

// lendInfo says the holder of an address's block lent it to host To. The
// borrower returns it by deleting the entry.
type lendInfo struct {
	Nonce string
	To    string
}

// usedInfo lists a host's leases in a pool, for error messages and Status.
type usedInfo struct {
	Nonce string
	Addrs []string
	Held  int    // blocks held
	Free  uint64 `json:",omitempty"` // free addresses in them: the host's reserve
}

// removedInfo marks a host removed by RemovePeer; Takers names, per pool,
// the one host that takes over the removed host's blocks.
type removedInfo struct {
	By     string
	Takers map[string]string
}

// decode unmarshals an entry's value; a malformed value reads as false.
func decode[T any](e mesh.Entry) (T, bool) {
	if e.Deleted {
		var v T
		return v, false
	}
	return record.Decode[T](e.Value)
}

// pairKey is the key pool|host (or pool|address) of the pair kinds.
func pairKey(pool, host string) string { return record.Join(record.SepPrefix, pool, host) }

// blockKey is the key pool|nonce|block of KindBlock.
func blockKey(pool, nonce string, b int) string {
	return record.Join(record.SepPrefix, pool, nonce, strconv.Itoa(b))
}

// splitPair splits pool|host; a key of another shape gives an empty host.
func splitPair(key string) (pool, host string) {
	parts, ok := record.Split(record.SepPrefix, key, 2)
	if !ok {
		return key, ""
	}
	return parts[0], parts[1]
}
