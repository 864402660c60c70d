package mesh

import (
	"sync"
	"sync/atomic"
)

// maxDirectQueue bounds the large entries waiting to be sent over TCP. A
// write that finds the queue full drops the oldest waiting one; push/pull
// repairs whatever a peer did not get.
const maxDirectQueue = 64

// directSender sends entries too large for gossip to every member over TCP,
// one at a time, from a single goroutine, so that a burst of large writes
// costs one goroutine and a bounded queue, not one goroutine each.
type directSender struct {
	send    func(msg []byte, stop <-chan struct{})
	limit   int
	wake    chan struct{} // capacity 1: a pending wake-up
	stop    chan struct{} // closed by close
	stopped chan struct{} // closed when the loop returns
	dropped atomic.Uint64 // messages dropped because the queue was full
	once    sync.Once

	// mu guards pending and order: order holds the ids of pending
	// messages, oldest first, each present once.
	mu      sync.Mutex
	pending map[string][]byte
	order   []string
}

// newDirectSender starts the sender loop; close stops it.
// send gets msg and a channel closed when the sender stops, so that it can
// give up between members.
func newDirectSender(limit int, send func(msg []byte, stop <-chan struct{})) *directSender {
	s := &directSender{
		send: send, limit: limit,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{}),
		pending: make(map[string][]byte),
	}
	go s.loop()
	return s
}

// enqueue queues msg for the entry id. A message still waiting for the same
// entry is replaced (only the newest version matters); when the queue is
// full the oldest message is dropped. It never blocks.
func (s *directSender) enqueue(id string, msg []byte) {
	s.mu.Lock()
	if _, ok := s.pending[id]; !ok {
		if len(s.order) >= s.limit {
			delete(s.pending, s.order[0])
			s.order = s.order[1:]
			s.dropped.Add(1)
		}
		s.order = append(s.order, id)
	}
	s.pending[id] = msg
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// next pops the oldest pending message.
func (s *directSender) next() ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.order) == 0 {
		return nil, false
	}
	id := s.order[0]
	s.order = s.order[1:]
	msg := s.pending[id]
	delete(s.pending, id)
	return msg, true
}

// queued returns the number of messages waiting.
func (s *directSender) queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.order)
}

func (s *directSender) loop() {
	defer close(s.stopped)
	for {
		select {
		case <-s.stop:
			return
		case <-s.wake:
		}
		for {
			select {
			case <-s.stop:
				return
			default:
			}
			msg, ok := s.next()
			if !ok {
				break
			}
			s.send(msg, s.stop)
		}
	}
}

// close stops the loop after the message being sent, if any, and waits for
// it. Messages still queued are dropped. close is idempotent.
func (s *directSender) close() {
	s.once.Do(func() { close(s.stop) })
	<-s.stopped
}
