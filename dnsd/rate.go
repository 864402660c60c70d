package dnsd

import (
	"sync/atomic"
	"time"
)

// DefaultAnswerRate is how many requests per second one host's dnsd
// answers in all (Config.AnswerRate); each network may use a quarter of it.
// dnsd answers about 47,000 requests a second on one core at saturation
// (BENCHMARKS.md); on loopback under a flood an answer took 20 µs of the
// server's CPU, kernel included, and a request dropped by the gates 5 µs.
// The default keeps answers to under half a core, and one network's to
// about a tenth, however fast containers ask: the rest of the plugin, and
// its gossip above all, keeps a core.
const DefaultAnswerRate = 20_000

// answerShares: one network answers at most 1/answerShares of AnswerRate.
const answerShares = 4

// gate is a token bucket that takes no lock: the generic cell rate
// algorithm, which keeps only the time at which the bucket will next be
// full (tat), and lets a request through when taking one token would not
// empty the bucket below zero. One compare-and-swap per request.
type gate struct {
	interval int64 // ns per token
	depth    int64 // ns: the burst in tokens times interval
	tat      atomic.Int64
}

// newGate lets rate requests a second through, burst at once.
func newGate(rate float64, burst int) *gate {
	return &gate{interval: int64(float64(time.Second) / rate), depth: int64(float64(time.Second) / rate * float64(burst))}
}

// gateFor is a gate of rate a second whose burst is a tenth of a second's
// worth, at least one.
func gateFor(rate float64) *gate { return newGate(rate, max(int(rate/10), 1)) }

// allow takes a token at now (ns on a monotonic clock); false when there
// is none. A caller whose now is older than the depth, while others have
// taken tokens since, may be refused: the gate errs on the strict side.
func (g *gate) allow(now int64) bool {
	for {
		tat := g.tat.Load()
		next := max(tat, now) + g.interval
		if next-now > g.depth {
			return false
		}
		if g.tat.CompareAndSwap(tat, next) {
			return true
		}
	}
}
