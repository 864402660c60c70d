package mesh

import (
	"sync"
	"sync/atomic"
)

// subscribers fans a "something changed" signal out to consumers without
// ever blocking the sender.
type subscribers struct {
	// mu guards chans. Sends happen under mu, so a channel is never sent
	// on after unsubscribe closed it.
	mu    sync.Mutex
	chans map[chan struct{}]struct{}
}

func newSubscribers() *subscribers {
	return &subscribers{chans: make(map[chan struct{}]struct{})}
}

func (s *subscribers) add() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	s.chans[ch] = struct{}{}
	s.mu.Unlock()
	return ch, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, ok := s.chans[ch]; ok {
			delete(s.chans, ch)
			close(ch)
		}
	}
}

// notify signals every subscriber. A subscriber that has not yet consumed
// the previous signal keeps that one: signals coalesce.
func (s *subscribers) notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.chans {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Stats is a point-in-time view of a Mesh's counters. Counters only grow
// while the Mesh lives.
type Stats struct {
	// Entries is the number of live entries held.
	Entries int
	// Tombstones is the number of deleted entries held until reaped.
	Tombstones int
	// Members is the number of live members, this peer included.
	Members int
	// BroadcastsQueued counts entry and bye messages queued for gossip or
	// sent directly because they were too large for a gossip packet.
	BroadcastsQueued uint64
	// BroadcastsSent counts messages handed to memberlist for sending;
	// each queued broadcast is sent several times.
	BroadcastsSent uint64
	// MergesApplied counts remote entries that changed the local map.
	MergesApplied uint64
	// MergesIgnored counts remote entries that were old or duplicates,
	// or rejected (those are also in Rejected).
	MergesIgnored uint64
	// BytesReceived counts the bytes of messages and full states received.
	BytesReceived uint64
	// DecodeErrors counts messages and full states that could not be parsed.
	DecodeErrors uint64
	// TombstonesReaped counts tombstones dropped after TombstoneTTL.
	TombstonesReaped uint64
	// DirectQueued is the number of large entries waiting to be sent over
	// TCP; DirectDropped counts those dropped because the queue was full
	// (push/pull repairs them).
	DirectQueued  int
	DirectDropped uint64
	// BroadcastsPruned counts gossip broadcasts dropped because the
	// gossip queue was over its bound (push/pull repairs them).
	BroadcastsPruned uint64
	// Rejected counts remote and restored records refused by admission
	// (see Mesh.Rejected for them per owner and kind).
	Rejected uint64
	// NotUnderstood counts remote and restored records of kinds this peer
	// does not know, which it ignores (a newer release wrote them).
	NotUnderstood uint64
	// StreamsRefused counts gossip streams refused before authentication
	// (over a bound, too large, or not opened by a key); PacketsDropped
	// counts datagrams of non-members dropped over their shared rate.
	StreamsRefused, PacketsDropped uint64
	// Stale counts old messages ignored by the replay rule: writes at or
	// below their writer's watermark that would have replaced what this
	// peer holds (a replay, see watermarks.go).
	Stale uint64
	// Sync by difference (sync.go): SyncRequests counts the requests this
	// peer sent after a summary, SyncChunksSent and SyncRecordsSent the
	// chunks and records it answered with, SyncDropped the records it
	// dropped at the end of an exchange (deleted or replaced elsewhere),
	// SyncUnasked the chunks it ignored (late, or replayed), SyncRelayed
	// the records it passed on by gossip after an exchange that repaired
	// at most maxRelay of them, SyncOffers the summaries it offered after
	// an exchange that repaired more (offer.go).
	SyncRequests, SyncChunksSent, SyncRecordsSent, SyncDropped, SyncUnasked, SyncRelayed, SyncOffers uint64
}

// counters are the growing Stats fields; each is atomic on its own, so no
// lock is needed and the memberlist goroutines never wait on one.
type counters struct {
	queued, sent, applied, ignored, bytes, decodeErrs, reaped, pruned, rejected              atomic.Uint64
	notUnderstood, streamsRefused, packetsDropped, stale                                     atomic.Uint64
	syncRequests, syncChunks, syncRecords, syncDropped, syncUnasked, syncRelayed, syncOffers atomic.Uint64
}
