package statefile

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Owner is a package that keeps state in the file.
type Owner string

// The owners. Each reads and writes only its own buckets, through the Access
// that For gives it, in a file next to its own code; package main opens the
// file and hands each owner its Access, and persists nothing itself.
const (
	OwnerMesh    Owner = "mesh"
	OwnerDriver  Owner = "driver"
	OwnerIPAlloc Owner = "ipalloc"
)

// The buckets. Names never change: a state file written by any earlier
// release opens (TestPreviousReleaseStateFile in package main reads one).
const (
	// MeshPeer holds this host's peer name and the peers added with
	// `weavego connect`. Its name is the package that wrote it first.
	MeshPeer = "plugin"
	// MeshSnapshot holds the replicated map and when it was saved.
	MeshSnapshot = "mesh.snapshot"
	// DriverNetworks and DriverEndpoints hold this host's networks and
	// endpoints as Docker created them.
	DriverNetworks  = "driver.networks"
	DriverEndpoints = "driver.endpoints"
	// IPAllocMeta, IPAllocPools, IPAllocBlocks, IPAllocLeases and
	// IPAllocReleased hold the allocator's host and range, its pools, the
	// blocks it holds, its leases and the addresses it released lately.
	IPAllocMeta     = "ipalloc.meta"
	IPAllocPools    = "ipalloc.pools"
	IPAllocBlocks   = "ipalloc.blocks"
	IPAllocLeases   = "ipalloc.leases"
	IPAllocReleased = "ipalloc.released"
)

// Bucket is one bucket of the file and its owner.
type Bucket struct {
	Name  string
	Owner Owner
}

// Buckets lists every bucket this release writes, besides the file's own
// format marker (metaBucket), with its owner.
func Buckets() []Bucket {
	return []Bucket{
		{MeshPeer, OwnerMesh},
		{MeshSnapshot, OwnerMesh},
		{DriverNetworks, OwnerDriver},
		{DriverEndpoints, OwnerDriver},
		{IPAllocMeta, OwnerIPAlloc},
		{IPAllocPools, OwnerIPAlloc},
		{IPAllocBlocks, OwnerIPAlloc},
		{IPAllocLeases, OwnerIPAlloc},
		{IPAllocReleased, OwnerIPAlloc},
	}
}

// ErrNotOwner is returned when an owner reaches for a bucket of another.
var ErrNotOwner = errors.New("bucket belongs to another owner")

// Access is one owner's way into the file: its buckets and no others. It is
// safe for concurrent use.
type Access struct {
	s       *Store
	owner   Owner
	buckets map[string]bool
}

// For returns owner's access to the file.
func (s *Store) For(owner Owner) *Access {
	a := &Access{s: s, owner: owner, buckets: map[string]bool{}}
	for _, b := range Buckets() {
		if b.Owner == owner {
			a.buckets[b.Name] = true
		}
	}
	return a
}

func (a *Access) check(bucket string) error {
	if !a.buckets[bucket] {
		return fmt.Errorf("%w: %s may not use bucket %q", ErrNotOwner, a.owner, bucket)
	}
	return nil
}

// DB is the database, for an owner that needs transactions over several of
// its buckets at once (the allocator). It must touch only its own buckets,
// which Buckets lists; Check reports any other bucket in the file.
func (a *Access) DB() *bolt.DB { return a.s.db }

// Check reports the buckets of the file that Buckets does not list: a newer
// release's (left alone) or a stray one.
func (s *Store) Check() (unknown []string, err error) {
	known := map[string]bool{metaBucket: true}
	for _, b := range Buckets() {
		known[b.Name] = true
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			if !known[string(name)] {
				unknown = append(unknown, string(name))
			}
			return nil
		})
	})
	return unknown, err
}
