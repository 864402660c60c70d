// Package statefile keeps weavego's persistent state in one bbolt file in the
// plugin's `state` mount, so that a killed, disabled or rebooted plugin resumes
// where it stopped. Buckets lists every bucket with the package that owns it;
// each owner reaches its own buckets, and no others, through the Access that
// Store.For gives it, from a file next to its own code (mesh/persist.go,
// driver, ipalloc/disk.go). Values stored through Put are JSON. The file
// carries a format marker: a file that is not weavego's, or of a format this
// version does not know, is reported and never overwritten.
package statefile

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Format is written into every state file this version creates.
const Format = "weavego-state-1"

const (
	metaBucket = "meta"
	formatKey  = "format"
)

// ErrForeign reports a state file that weavego did not write.
var ErrForeign = errors.New("state file is not weavego's")

// Store is the state file. It is safe for concurrent use (bbolt serialises writers).
type Store struct {
	db   *bolt.DB
	path string
}

// Open opens or creates the state file at path. A damaged, truncated or
// foreign file is refused with one sentence naming the file and what to do;
// it never panics (bbolt panics on reading a damaged page, so the whole file
// is checked here, behind one recover, before anything reads it).
func Open(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create state directory %s: %w", filepath.Dir(path), err)
	}
	db, err := openChecked(path)
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, path: path}
	if err := s.checkFormat(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// ErrDamaged reports a state file bbolt cannot read.
var ErrDamaged = errors.New("state file is damaged")

// damaged is the one-line refusal of a damaged file.
func damaged(path string, cause any) error {
	return fmt.Errorf("%w: %s (%v): move it away (mv %s %s.broken) and start again; this host then forgets "+
		"its networks, its address space and the cluster state it saved, and takes them from the other hosts",
		ErrDamaged, path, cause, path, path)
}

// openChecked opens path and checks every page, turning bbolt's panics on
// damaged pages into ErrDamaged. bbolt reads the file through a memory map:
// a file cut short leaves pages it names past the end, and reading one is a
// fault, which stops the process unless it is turned into a panic here.
func openChecked(path string) (db *bolt.DB, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if db != nil {
				db.Close()
			}
			db, err = nil, damaged(path, r)
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: 10 * time.Second})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open state file %s: another process holds it (is a second weavego running?)", path)
	}
	if err != nil {
		return nil, damaged(path, err)
	}
	err = db.View(func(tx *bolt.Tx) error {
		var first error
		for cerr := range tx.Check() { // drained: the checker stops only then
			if first == nil {
				first = cerr
			}
		}
		return first
	})
	if err != nil {
		db.Close()
		return nil, damaged(path, err)
	}
	return db, nil
}

func (s *Store) checkFormat() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket([]byte(metaBucket))
		if meta == nil {
			empty := true
			_ = tx.ForEach(func([]byte, *bolt.Bucket) error { empty = false; return nil })
			if !empty {
				return fmt.Errorf("%w: %s holds data but no weavego format marker; move it away or point the state mount elsewhere", ErrForeign, s.path)
			}
			b, err := tx.CreateBucket([]byte(metaBucket))
			if err != nil {
				return err
			}
			return b.Put([]byte(formatKey), []byte(Format))
		}
		if f := string(meta.Get([]byte(formatKey))); f != Format {
			return fmt.Errorf("%w: %s has format %q, this weavego reads %q", ErrForeign, s.path, f, Format)
		}
		return nil
	})
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Put stores v as JSON under bucket/key.
func (a *Access) Put(bucket, key string, v any) error {
	if err := a.check(bucket); err != nil {
		return err
	}
	s := a.s
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s/%s: %w", bucket, key, err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return fmt.Errorf("bucket %s: %w", bucket, err)
		}
		return b.Put([]byte(key), data)
	})
	return s.writeErr(bucket, key, err)
}

// writeErr explains a failed write; bbolt rolls a failed transaction back,
// so the file keeps the last state written in full.
func (s *Store) writeErr(bucket, key string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return fmt.Errorf("save %s/%s in %s: the state disk is full: free space there; the last saved state is "+
			"kept, and changes since are lost if the plugin stops before space is freed: %w", bucket, key, s.path, err)
	default:
		return fmt.Errorf("save %s/%s in %s: %w (the last saved state is kept)", bucket, key, s.path, err)
	}
}

// Delete removes bucket/key; a missing key is not an error.
func (a *Access) Delete(bucket, key string) error {
	if err := a.check(bucket); err != nil {
		return err
	}
	return a.s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		return b.Delete([]byte(key))
	})
}

// ForEach calls fn for every key of bucket, in key order.
func (a *Access) ForEach(bucket string, fn func(key string, value []byte) error) error {
	if err := a.check(bucket); err != nil {
		return err
	}
	return a.s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error { return fn(string(k), v) })
	})
}

// Get reads bucket/key into v; ok is false when absent.
func (a *Access) Get(bucket, key string, v any) (ok bool, err error) {
	if err := a.check(bucket); err != nil {
		return false, err
	}
	err = a.s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		data := b.Get([]byte(key))
		if data == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(data, v)
	})
	return ok, err
}
