package ipalloc

import (
	"fmt"
	"sync"

	"go.etcd.io/bbolt"
)

// Group commit. Every write of the allocator's state goes through one
// queue, in the order the allocator's lock made the in-memory changes they
// mirror; whoever waits for a write while no commit is under way commits
// everything queued so far in one bbolt transaction, so that requests
// arriving while a commit reaches the disk share the next one instead of
// waiting for an fsync each. A write is reported done only once the
// transaction holding it has committed (bbolt's commit returns after its
// fdatasync): nothing is acknowledged before it is durable. No write waits
// for a timer or for company: a lone write commits at once.

// commit is one queued write: fn runs in a write transaction and must only
// write (its effect is that of a put or delete, the same when run twice).
type commit struct {
	what string
	fn   func(tx *bbolt.Tx) error
	done bool  // guarded by committer.mu
	err  error // guarded by committer.mu; set with done
}

// committer is the queue of writes and its one committer at a time.
type committer struct {
	db *bbolt.DB

	// mu guards queue, busy and the done and err of every queued commit.
	// It is never held during a transaction. Lock order: Allocator.mu,
	// then mu.
	mu    sync.Mutex
	ready *sync.Cond // on mu: a commit finished
	queue []*commit
	busy  bool // a goroutine is committing a batch taken from queue
}

func newCommitter(db *bbolt.DB) *committer {
	c := &committer{db: db}
	c.ready = sync.NewCond(&c.mu)
	return c
}

// enqueue queues fn, naming what for errors. Callers hold the allocator's
// lock, so the queue follows the order of the in-memory changes.
func (c *committer) enqueue(what string, fn func(tx *bbolt.Tx) error) *commit {
	w := &commit{what: what, fn: fn}
	c.mu.Lock()
	c.queue = append(c.queue, w)
	c.mu.Unlock()
	return w
}

// wait returns once w is on disk (nil) or has failed. It may be called
// with or without the allocator's lock.
func (c *committer) wait(w *commit) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for !w.done {
		if c.busy {
			c.ready.Wait()
			continue
		}
		batch := c.queue // holds w: it was queued and is not done
		c.queue = nil
		c.busy = true
		c.mu.Unlock()
		errs := c.run(batch)
		c.mu.Lock()
		for i, b := range batch {
			b.done, b.err = true, errs[i]
		}
		c.busy = false
		c.ready.Broadcast()
	}
	return w.err
}

// run commits batch in one transaction. If that fails, each write is
// committed alone, in order, so that one bad write fails only its own
// caller.
func (c *committer) run(batch []*commit) []error {
	errs := make([]error, len(batch))
	err := c.db.Update(func(tx *bbolt.Tx) error {
		for _, b := range batch {
			if err := b.fn(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		return errs
	}
	if len(batch) == 1 {
		errs[0] = fmt.Errorf("save %s: %w", batch[0].what, err)
		return errs
	}
	for i, b := range batch {
		if err := c.db.Update(b.fn); err != nil {
			errs[i] = fmt.Errorf("save %s: %w", b.what, err)
		}
	}
	return errs
}
