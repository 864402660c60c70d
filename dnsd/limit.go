package dnsd

import (
	"net/netip"
	"sync"
	"time"
)

// Defaults of the per-client forwarding budget.
const (
	// DefaultClientRate is the sustained forwards per second of one client.
	DefaultClientRate = 100
	// DefaultClientBurst is how many forwards one client may make at once.
	DefaultClientBurst = 200
	// DefaultMaxClients bounds the clients whose budget is remembered.
	DefaultMaxClients = 4096
)

// sweepEvery bounds how often a full limiter scans for idle clients, so
// that a stream of new source addresses cannot make every query O(n).
const sweepEvery = time.Second

// limiter is a token bucket per client address. Idle clients' buckets are
// full, exactly as a new bucket is, so forgetting them loses nothing; when
// every remembered client is busy, an arbitrary one is forgotten, which
// gives it at most one extra burst.
type limiter struct {
	rate  float64 // tokens per second
	burst float64
	max   int
	now   func() time.Time

	// mu guards buckets and lastSweep.
	mu        sync.Mutex
	buckets   map[netip.Addr]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was computed
}

func newLimiter(rate float64, burst, maxClients int) *limiter {
	return &limiter{rate: rate, burst: float64(burst), max: maxClients, now: time.Now,
		buckets: make(map[netip.Addr]*bucket)}
}

// allow takes one token from a's bucket; false when it is empty.
func (l *limiter) allow(a netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.buckets[a]
	if b == nil {
		l.makeRoom(now)
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[a] = b
	}
	b.refill(now, l.rate, l.burst)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (b *bucket) refill(now time.Time, rate, burst float64) {
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(burst, b.tokens+d.Seconds()*rate)
		b.at = now
	}
}

// makeRoom frees one place when the map is full; mu is held.
func (l *limiter) makeRoom(now time.Time) {
	if len(l.buckets) < l.max {
		return
	}
	if now.Sub(l.lastSweep) >= sweepEvery {
		l.lastSweep = now
		for a, b := range l.buckets {
			if b.refill(now, l.rate, l.burst); b.tokens >= l.burst {
				delete(l.buckets, a)
			}
		}
	}
	for a := range l.buckets {
		if len(l.buckets) < l.max {
			break
		}
		delete(l.buckets, a)
	}
}

// size is the number of clients remembered.
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
