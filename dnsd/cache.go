package dnsd

import (
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// The cache of upstream answers. It holds what upstreams answered, for as
// long as their TTLs say and never longer than maxCacheTTL, so that a
// name many containers ask for costs one forward per TTL. It is consulted
// where a request would be forwarded and nowhere else: after the table
// (so a name that is a container's name for the client is answered from
// the table, whatever was cached for it), and never for a client of an
// --internal network (nothing of the outside reaches it). The answers are
// the upstream's, for anyone: none depends on who asked.

const (
	// cacheSize bounds the answers held; beyond it, expired or arbitrary
	// entries are dropped.
	cacheSize = 10000
	// maxCacheTTL bounds how long an answer is served from the cache,
	// whatever its TTLs say.
	maxCacheTTL = 5 * time.Minute
	// evictScan is how many entries an insertion into a full cache looks
	// at for an expired one before dropping one of them.
	evictScan = 8
)

// cacheKey is what an upstream's answer depends on: the question (the name
// case-folded) and the DNSSEC bits of the request.
type cacheKey struct {
	name          string
	qtype, qclass uint16
	do, cd        bool
}

// cached is one answer: msg is never changed once stored.
type cached struct {
	msg     *dns.Msg
	stored  time.Time
	expires time.Time
}

// answerCache is safe for concurrent use.
type answerCache struct {
	// mu guards entries.
	mu      sync.Mutex
	entries map[cacheKey]cached
	max     int
}

func newAnswerCache(size int) *answerCache {
	return &answerCache{entries: make(map[cacheKey]cached), max: size}
}

func keyOf(r *dns.Msg) (cacheKey, bool) {
	if len(r.Question) != 1 {
		return cacheKey{}, false
	}
	q := r.Question[0]
	k := cacheKey{name: strings.ToLower(q.Name), qtype: q.Qtype, qclass: q.Qclass, cd: r.CheckingDisabled}
	if opt := r.IsEdns0(); opt != nil {
		k.do = opt.Do()
	}
	return k, true
}

// get returns the cached answer to r at now, as a reply to r (its ID and
// question) with the TTLs aged, or nil.
func (c *answerCache) get(r *dns.Msg, now time.Time) *dns.Msg {
	k, ok := keyOf(r)
	if !ok {
		return nil
	}
	c.mu.Lock()
	e, ok := c.entries[k]
	if ok && !now.Before(e.expires) {
		delete(c.entries, k)
		ok = false
	}
	c.mu.Unlock()
	if !ok {
		return nil
	}
	m := e.msg.Copy()
	m.Id = r.Id
	m.Question = append(m.Question[:0], r.Question[0]) // the client's spelling
	age := uint32(now.Sub(e.stored) / time.Second)
	for _, rrs := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range rrs {
			if h := rr.Header(); h.Rrtype != dns.TypeOPT {
				h.Ttl -= min(h.Ttl, age)
			}
		}
	}
	return m
}

// put stores resp, an upstream's answer to r, if it may be cached: a
// complete NOERROR or NXDOMAIN answer to the same question, for the least
// TTL among its records (a negative answer: its SOA's, RFC 2308), at most
// maxCacheTTL.
func (c *answerCache) put(r, resp *dns.Msg, now time.Time) {
	k, ok := keyOf(r)
	if !ok || resp.Truncated || len(resp.Question) != 1 || !sameQuestion(r.Question[0], resp.Question[0]) ||
		(resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError) {
		return
	}
	ttl, ok := answerTTL(resp)
	if !ok || ttl <= 0 {
		return
	}
	e := cached{msg: resp.Copy(), stored: now, expires: now.Add(min(ttl, maxCacheTTL))}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, there := c.entries[k]; !there && len(c.entries) >= c.max {
		c.evict(now)
	}
	c.entries[k] = e
}

// evict drops an expired entry among the first evictScan, or else the
// first (map order is arbitrary). The caller holds mu.
func (c *answerCache) evict(now time.Time) {
	var victim cacheKey
	n := 0
	for k, e := range c.entries {
		if n == 0 || !now.Before(e.expires) {
			victim = k
		}
		if n++; n >= evictScan || !now.Before(e.expires) {
			break
		}
	}
	delete(c.entries, victim)
}

// answerTTL is how long resp may be cached: the least TTL of its answer
// and authority records; for an answer without records of the question
// (NXDOMAIN, NODATA), that of its SOA and the SOA's minimum. ok is false
// when resp says nothing of how long it holds.
func answerTTL(resp *dns.Msg) (time.Duration, bool) {
	least, found := uint32(0), false
	take := func(t uint32) {
		if !found || t < least {
			least, found = t, true
		}
	}
	for _, rr := range resp.Answer {
		take(rr.Header().Ttl)
	}
	negative := len(resp.Answer) == 0
	for _, rr := range resp.Ns {
		if soa, ok := rr.(*dns.SOA); ok && negative {
			take(min(soa.Hdr.Ttl, soa.Minttl))
		} else if !negative {
			take(rr.Header().Ttl)
		}
	}
	if negative && !found {
		return 0, false
	}
	return time.Duration(least) * time.Second, found
}

// sameQuestion compares questions as DNS does: names without regard to case.
func sameQuestion(a, b dns.Question) bool {
	return a.Qtype == b.Qtype && a.Qclass == b.Qclass && strings.EqualFold(a.Name, b.Name)
}
