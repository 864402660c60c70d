package mesh

import (
	"errors"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/memberlist"
)

// maxOutbox bounds the requests and answers of sync by difference waiting
// to be sent; beyond it the oldest is dropped (the next push/pull asks
// again).
const maxOutbox = 64

// outbox sends the messages of sync by difference to one member each, over
// TCP, from one goroutine, so that memberlist's callbacks never wait on the
// network. An answer's chunks are made one writer at a time as they are
// sent, so it holds one writer's chunks at a time.
type outbox struct {
	send    func(to string, msg []byte) error
	wake    chan struct{}
	stop    chan struct{}
	stopped chan struct{}
	once    sync.Once
	dropped atomic.Uint64

	mu   sync.Mutex
	jobs []outJob
}

// outJob is one request, or one answer (next returns its chunks writer by
// writer, nil when done), to one member.
type outJob struct {
	to   string
	next func() [][]byte
}

func newOutbox(send func(to string, msg []byte) error) *outbox {
	o := &outbox{send: send, wake: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
	go o.loop()
	return o
}

// add queues a job; it never blocks.
func (o *outbox) add(j outJob) {
	o.mu.Lock()
	if len(o.jobs) >= maxOutbox {
		o.jobs = o.jobs[1:]
		o.dropped.Add(1)
	}
	o.jobs = append(o.jobs, j)
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *outbox) loop() {
	defer close(o.stopped)
	for {
		select {
		case <-o.stop:
			return
		case <-o.wake:
		}
		for {
			o.mu.Lock()
			if len(o.jobs) == 0 {
				o.mu.Unlock()
				break
			}
			j := o.jobs[0]
			o.jobs = o.jobs[1:]
			o.mu.Unlock()
			o.run(j)
		}
	}
}

// run sends a job's messages until it is done, one fails or the outbox
// stops.
func (o *outbox) run(j outJob) {
	for {
		msgs := j.next()
		if msgs == nil {
			return
		}
		for _, m := range msgs {
			select {
			case <-o.stop:
				return
			default:
			}
			if err := o.send(j.to, m); err != nil {
				return
			}
		}
	}
}

// closed reports whether close was called.
func (o *outbox) closed() bool {
	select {
	case <-o.stop:
		return true
	default:
		return false
	}
}

func (o *outbox) close() {
	o.once.Do(func() { close(o.stop) })
	<-o.stopped
}

// once returns a job's next for a single batch of messages.
func onceMsgs(msgs [][]byte) func() [][]byte {
	done := false
	return func() [][]byte {
		if done {
			return nil
		}
		done = true
		return msgs
	}
}

// errNotMember: the peer a sync message is for is not a live member.
var errNotMember = errors.New("not a live member")

// sendTo sends msg over TCP to the live member name.
func (m *Mesh) sendTo(name string, msg []byte) error {
	for _, n := range m.otherMembers() {
		if n.Name == name {
			return m.list.SendReliable(&n, msg)
		}
	}
	return errNotMember
}

// protocols tracks each member's highest delegate protocol, so that a peer
// sends summaries instead of full maps only when every member reads them.
type protocols struct {
	mu  sync.Mutex
	max map[string]uint8
}

func (p *protocols) set(n *memberlist.Node) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.max == nil {
		p.max = map[string]uint8{}
	}
	p.max[n.Name] = n.DMax
}

func (p *protocols) gone(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.max, name)
}

// all reports whether every member known speaks at least v.
func (p *protocols) all(v uint8) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.max {
		if m < v {
			return false
		}
	}
	return len(p.max) > 0
}

// answerJob is the job that answers req writer by writer, counting the
// chunks and records in stats.
func (y *syncer) answerJob(req *syncRequest, stats *counters) outJob {
	writers := req.writers
	return outJob{to: req.from, next: func() [][]byte {
		if len(writers) == 0 {
			return nil
		}
		w := writers[0]
		writers = writers[1:]
		chunks, records := y.answer(&syncRequest{from: req.from, nonce: req.nonce, writers: []string{w}})
		stats.syncChunks.Add(uint64(len(chunks)))
		stats.syncRecords.Add(uint64(records))
		return chunks
	}}
}
