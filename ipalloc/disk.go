package ipalloc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/weavego/weavego/internal/statefile"
	"net/netip"
	"strconv"

	"go.etcd.io/bbolt"
)

// Saved state, in the caller's bbolt file under buckets of our own. A pool's
// held blocks, leases and pending handovers are on disk before the change
// they mirror is announced to other hosts or answered to Docker (a lease
// waiting for its write is already in memory, so no one else takes its
// address; a released address stays leased in memory until its release is
// written: leasewrite.go), so
// a restart (kill -9, reboot) resumes exactly what this host had promised:
// it never forgets a lease and never takes back a block it gave away. The addresses released lately (handback.go), a
// preference only, are saved with the release that adds them and the lease
// that takes one again, one value per pool; what cannot be used of them is
// skipped at load, never refused.
var (
	bucketMeta     = []byte(statefile.IPAllocMeta)
	bucketPools    = []byte(statefile.IPAllocPools)
	bucketBlocks   = []byte(statefile.IPAllocBlocks)
	bucketLeases   = []byte(statefile.IPAllocLeases)
	bucketReleased = []byte(statefile.IPAllocReleased) // pool -> {address: released}
	allBuckets     = [][]byte{bucketMeta, bucketPools, bucketBlocks, bucketLeases, bucketReleased}
)

const schemaVersion = "1"

// poolInfo describes a pool; it is the value of the replicated pool entry.
type poolInfo struct {
	Subnet  string
	Range   string
	Gateway string
	Seeder  string // the host that claimed the pool and first held its space
	Nonce   string // tells incarnations of the same subnet apart
	Cluster string // the seeder's IPALLOC_RANGE
	Default bool   `json:",omitempty"` // carved from the cluster range
}

// poolRecord is a pool as this host saves it.
type poolRecord struct {
	Info      poolInfo
	Refs      int
	Confirmed bool   // the claim was confirmed; only then may the seeder allocate
	Version   uint64 // of the pool entry this host last wrote, as seeder
}

// lease is one allocated address. An address of a block this host holds
// may be lent to another host that asked for it by number (Lent names that
// host); the borrower keeps it as a lease From the lender. From is not
// updated when RemovePeer moves the lender's space to another host, which
// then lends the address on; a borrowed address in a block this host comes
// to hold becomes its own.
type lease struct {
	MAC    string `json:",omitempty"`
	Name   string `json:",omitempty"` // the endpoint's name, if Docker gave it
	Static bool   `json:",omitempty"`
	Lent   string `json:",omitempty"`
	From   string `json:",omitempty"`
}

// blockRec is this host's ledger of one block: whether it holds it, the
// version of the last replicated block entry it wrote or accepted (an entry
// at or below it is stale), and the host a handover is pending to.
type blockRec struct {
	Held    bool   `json:",omitempty"`
	Version uint64 `json:",omitempty"`
	To      string `json:",omitempty"`
}

// saved is everything loaded from the database.
type saved struct {
	pools    map[string]poolRecord
	blocks   map[string]map[int]blockRec
	leases   map[string]map[netip.Addr]lease
	released map[string]map[netip.Addr]released
	skipped  []string // pools whose saved releases were unreadable
}

// disk reads and writes the allocator's buckets in the state file; q
// orders and groups the writes (commit.go).
type disk struct {
	db *bbolt.DB
	q  *committer
}

// init creates the buckets, or checks that existing state belongs to this
// host and range.
func (s disk) init(host, rng string) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("create bucket %s: %w", b, err)
			}
		}
		m := tx.Bucket(bucketMeta)
		want := map[string]string{"schema": schemaVersion, "host": host, "range": rng}
		if m.Get([]byte("schema")) == nil {
			for k, v := range want {
				if err := m.Put([]byte(k), []byte(v)); err != nil {
					return fmt.Errorf("save %s: %w", k, err)
				}
			}
			return nil
		}
		return checkMeta(m, want)
	})
}

func checkMeta(m *bbolt.Bucket, want map[string]string) error {
	got := func(k string) string { return string(m.Get([]byte(k))) }
	switch {
	case got("schema") != want["schema"]:
		return fmt.Errorf("saved allocator state has format %q, this version reads %q: %w", got("schema"), want["schema"], ErrCorruptState)
	case got("range") != want["range"]:
		return fmt.Errorf("saved allocator state was made with IPALLOC_RANGE %s but it is now %s; set it back or remove the state: %w",
			got("range"), want["range"], ErrRangeMismatch)
	case got("host") != want["host"]:
		return fmt.Errorf("saved allocator state belongs to host %q, not %q: %w", got("host"), want["host"], ErrCorruptState)
	}
	return nil
}

// load reads all saved state and checks that it hangs together.
func (s disk) load() (saved, error) {
	sv := saved{pools: map[string]poolRecord{}, blocks: map[string]map[int]blockRec{},
		leases: map[string]map[netip.Addr]lease{}, released: map[string]map[netip.Addr]released{}}
	err := s.db.View(func(tx *bbolt.Tx) error {
		if err := tx.Bucket(bucketPools).ForEach(func(k, v []byte) error {
			var r poolRecord
			if err := json.Unmarshal(v, &r); err != nil || r.Info.Subnet != string(k) {
				return fmt.Errorf("saved pool %q is unreadable: %w", k, ErrCorruptState)
			}
			sv.pools[string(k)] = r
			return nil
		}); err != nil {
			return err
		}
		if err := loadChildren(tx, &sv); err != nil {
			return err
		}
		return loadReleased(tx, &sv)
	})
	return sv, err
}

// loadReleased reads the releases saved per pool. Being a preference, an
// unreadable value is skipped (and named in sv.skipped), not refused.
func loadReleased(tx *bbolt.Tx, sv *saved) error {
	return tx.Bucket(bucketReleased).ForEach(func(k, v []byte) error {
		var r map[netip.Addr]released
		if err := json.Unmarshal(v, &r); err != nil {
			sv.skipped = append(sv.skipped, string(k))
			return nil //nolint:nilerr // a preference: skipped, named in sv.skipped
		}
		sv.released[string(k)] = r
		return nil
	})
}

func loadChildren(tx *bbolt.Tx, sv *saved) error {
	err := forChild(tx, bucketBlocks, sv, func(id, sub string, v []byte) error {
		b, err := strconv.Atoi(sub)
		var r blockRec
		if err == nil {
			err = json.Unmarshal(v, &r)
		}
		if sv.blocks[id] == nil {
			sv.blocks[id] = map[int]blockRec{}
		}
		sv.blocks[id][b] = r
		return err
	})
	if err != nil {
		return err
	}
	return forChild(tx, bucketLeases, sv, func(id, sub string, v []byte) error {
		a, err := netip.ParseAddr(sub)
		var l lease
		if err == nil {
			err = json.Unmarshal(v, &l)
		}
		if sv.leases[id] == nil {
			sv.leases[id] = map[netip.Addr]lease{}
		}
		sv.leases[id][a] = l
		return err
	})
}

// forChild walks a bucket keyed pool\x00sub, checking the pool exists.
func forChild(tx *bbolt.Tx, bucket []byte, sv *saved, fn func(id, sub string, v []byte) error) error {
	return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
		id, sub, ok := bytes.Cut(k, []byte{0})
		if _, known := sv.pools[string(id)]; !ok || !known {
			return fmt.Errorf("saved record %q in %s belongs to no pool: %w", k, bucket, ErrCorruptState)
		}
		if err := fn(string(id), string(sub), v); err != nil {
			return fmt.Errorf("saved record %q in %s is unreadable: %w", k, bucket, ErrCorruptState)
		}
		return nil
	})
}

func childKey(id, sub string) []byte { return append(append([]byte(id), 0), sub...) }

func putPool(tx *bbolt.Tx, r poolRecord) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketPools).Put([]byte(r.Info.Subnet), v)
}

// deletePool removes a pool and everything saved under it.
func deletePool(tx *bbolt.Tx, id string) error {
	for _, b := range [][]byte{bucketBlocks, bucketLeases} {
		c := tx.Bucket(b).Cursor()
		prefix := childKey(id, "")
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
			if err := c.Delete(); err != nil {
				return err
			}
		}
	}
	if err := tx.Bucket(bucketReleased).Delete([]byte(id)); err != nil {
		return err
	}
	return tx.Bucket(bucketPools).Delete([]byte(id))
}

func putBlock(tx *bbolt.Tx, id string, block int, r blockRec) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketBlocks).Put(childKey(id, strconv.Itoa(block)), v)
}

func putLease(tx *bbolt.Tx, id string, a netip.Addr, l *lease) error {
	k := childKey(id, a.String())
	if l == nil {
		return tx.Bucket(bucketLeases).Delete(k)
	}
	v, err := json.Marshal(l)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketLeases).Put(k, v)
}

// putReleased saves the addresses pool id released lately (none: deleted).
func putReleased(tx *bbolt.Tx, id string, recent map[netip.Addr]released) error {
	if len(recent) == 0 {
		return tx.Bucket(bucketReleased).Delete([]byte(id))
	}
	v, err := json.Marshal(recent)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketReleased).Put([]byte(id), v)
}
