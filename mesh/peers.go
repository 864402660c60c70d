package mesh

import (
	"cmp"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Peer states as reported by Peers.
const (
	StateAlive   = "alive"
	StateSuspect = "suspect"
	StateDead    = "dead"
	StateLeft    = "left"
)

// Peer is one member of the mesh as this peer sees it.
type Peer struct {
	// Name is the peer's stable name (its Config.Name).
	Name string
	// Addr is the peer's underlay (advertise) address.
	Addr netip.Addr
	// Port is the peer's gossip port.
	Port int
	// State is StateAlive, StateSuspect, StateDead or StateLeft.
	// Suspect is this peer's own view (its probe failed and the peer has
	// not answered since); memberlist does not expose other peers'
	// suspicions. Left means the peer said goodbye before going; a
	// goodbye that was lost makes it dead instead.
	State string
	// Local is true for this peer itself.
	Local bool
	// Since is when the peer became suspect, dead or left; zero while it
	// is alive.
	Since time.Time
}

// leaveGrace is how long a "bye" from a peer explains its disappearance: a
// peer that said bye and is gone within this window left, otherwise it died.
const leaveGrace = 30 * time.Second

// peerRecord is what the table keeps about one peer.
type peerRecord struct {
	peer      Peer
	suspectAt time.Time // when our own probe last failed it; zero if none
	byeAt     time.Time // when it last said bye; zero if never
	goneAt    time.Time // when it died or left; zero while a member
}

// peerTable tracks membership from memberlist's events. memberlist calls
// into it while holding its own node lock, so the lock order is
// memberlist's node lock, then peerTable.mu; the table never calls
// memberlist.
type peerTable struct {
	local string
	// suspectFor is how long a failed probe keeps a peer "suspect" if
	// memberlist neither declares it dead nor acks a later probe.
	suspectFor time.Duration

	// mu guards peers and addrs.
	mu    sync.Mutex
	peers map[string]*peerRecord
	// addrs counts the live members at each underlay address.
	addrs map[netip.Addr]int
}

func newPeerTable(local string, suspectFor time.Duration) *peerTable {
	return &peerTable{local: local, suspectFor: suspectFor, peers: make(map[string]*peerRecord),
		addrs: make(map[netip.Addr]int)}
}

// join records that a peer is (again) a live member.
func (t *peerTable) join(name string, addr netip.Addr, port int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.peers[name]; ok && old.goneAt.IsZero() {
		t.dropAddr(old.peer.Addr)
	}
	t.addrs[addr]++
	t.peers[name] = &peerRecord{peer: Peer{
		Name: name, Addr: addr, Port: port,
		State: StateAlive, Local: name == t.local,
	}}
}

// gone records that memberlist declared a peer dead or left, and returns
// the state it is now in.
func (t *peerTable) gone(name string, now time.Time) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.peers[name]
	if !ok {
		return ""
	}
	if r.goneAt.IsZero() {
		t.dropAddr(r.peer.Addr)
	}
	r.peer.State = StateDead
	if !r.byeAt.IsZero() && now.Sub(r.byeAt) < leaveGrace {
		r.peer.State = StateLeft
	}
	r.goneAt, r.suspectAt = now, time.Time{}
	return r.peer.State
}

// bye records that a peer announced it is leaving; it reports whether that
// changed a dead peer into a left one (the bye arrived late).
func (t *peerTable) bye(name string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.peers[name]
	if !ok {
		return false
	}
	r.byeAt = now
	if r.peer.State == StateDead && now.Sub(r.goneAt) < leaveGrace {
		r.peer.State = StateLeft
		return true
	}
	return false
}

// suspect records that our probe of a live peer failed; it reports whether
// the peer was alive.
func (t *peerTable) suspect(name string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.peers[name]
	if !ok || !r.goneAt.IsZero() {
		return false
	}
	r.suspectAt = now
	return true
}

// acked records a successful probe; it reports whether the peer had been
// suspect.
func (t *peerTable) acked(name string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.peers[name]
	if !ok || r.suspectAt.IsZero() {
		return false
	}
	r.suspectAt = time.Time{}
	return true
}

// maxGonePeers bounds the dead and left peers remembered: names that
// members churn through cannot grow the table without bound.
const maxGonePeers = 1024

// forget drops peers gone for longer than after, and the longest gone
// beyond maxGonePeers, and returns their names.
func (t *peerTable) forget(now time.Time, after time.Duration) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var names []string
	var gone []string
	for name, r := range t.peers {
		switch {
		case r.goneAt.IsZero():
		case now.Sub(r.goneAt) > after:
			delete(t.peers, name)
			names = append(names, name)
		default:
			gone = append(gone, name)
		}
	}
	if len(gone) > maxGonePeers {
		slices.SortFunc(gone, func(a, b string) int { return t.peers[a].goneAt.Compare(t.peers[b].goneAt) })
		for _, name := range gone[:len(gone)-maxGonePeers] {
			delete(t.peers, name)
			names = append(names, name)
		}
	}
	return names
}

// list returns every known peer sorted by name.
func (t *peerTable) list(now time.Time) []Peer {
	t.mu.Lock()
	out := make([]Peer, 0, len(t.peers))
	for _, r := range t.peers {
		p := r.peer
		if p.State == StateAlive && !r.suspectAt.IsZero() && now.Sub(r.suspectAt) < t.suspectFor {
			p.State, p.Since = StateSuspect, r.suspectAt
		}
		if !r.goneAt.IsZero() {
			p.Since = r.goneAt
		}
		out = append(out, p)
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b Peer) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// member reports whether name is a live (alive or suspect) member.
func (t *peerTable) member(name string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.peers[name]
	return ok && r.goneAt.IsZero()
}

// members counts live members, this peer included.
func (t *peerTable) members() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, r := range t.peers {
		if r.goneAt.IsZero() {
			n++
		}
	}
	return n
}

// dropAddr forgets one live member at a; t.mu is held.
func (t *peerTable) dropAddr(a netip.Addr) {
	if t.addrs[a]--; t.addrs[a] <= 0 {
		delete(t.addrs, a)
	}
}

// memberAddr reports whether a live member has the underlay address a.
func (t *peerTable) memberAddr(a netip.Addr) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.addrs[a] > 0
}

// hasAddr reports whether a live member gossips on ip:port.
func (t *peerTable) hasAddr(ip netip.Addr, port int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, r := range t.peers {
		if r.goneAt.IsZero() && r.peer.Port == port && r.peer.Addr == ip {
			return true
		}
	}
	return false
}
