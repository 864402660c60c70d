// Package ipalloc is weavego's address allocator: it decides which address
// a container gets, unique across the cluster, without consensus.
//
// # What it owns, what it never does
//
// ipalloc owns pools (a subnet, the range addresses come from, a gateway),
// the ownership of address space, and the leases of this host, saved in the
// caller's bbolt file (buckets "ipalloc.*"). It never talks to Docker (package
// ipamdriver does) and never sends a packet itself: all coordination goes
// through a ClusterMap, a gossiped map of entries with one writer each
// (package mesh), whose merge keeps the highest version.
//
// # Ownership: one writer per block
//
// A pool's range is cut into at most 1024 equal blocks (at least 4
// addresses each; a /24 gives 64 blocks of 4, a /16 1024 of 64). Every block
// has exactly one holder, and only the holder leases addresses from it, from
// memory and its own bbolt file: RequestAddress takes no network round trip
// while the host holds a free address. A block changes holder only by its
// holder's own act: it saves "given to B at version v", stops using the block
// and writes the block entry naming B; B saves the block as held and writes
// the entry itself, becoming its writer. Only empty blocks are given. So at
// any time at most one host may lease from a block, whatever the network
// does: two partitioned hosts never hand out the same address, and a
// handover lost in transit loses space (until it is republished), never
// duplicates it. Saved state is written before the entry that announces it,
// so kill -9 or a reboot resumes exactly what the host promised; a host
// republishes its held blocks and pending handovers after a restart, never
// above the version it saved, so it cannot overwrite a newer write.
//
// # How a pool gets its first holder
//
// The host where a pool is first requested claims it: it writes the pool
// entry (subnet, range, gateway, a random nonce) and holds every block. The
// claim is confirmed when every peer that is alive in the gossip view has
// acknowledged that this claim won; in a cluster of one, or with every peer
// down, that is immediate. Until then the claimer leases nothing (the call
// waits at most SpaceTimeout, then fails naming the peers that did not
// answer). Two hosts claiming at once are settled by the entry merge, the
// same everywhere: the loser never leased anything, and either joins the
// winner's pool (same subnet and range: the normal case when a network is
// created on every host) or, for a fresh subnet from IPALLOC_RANGE, picks
// another one. A host that opens a pool another host claimed holds nothing
// at first and asks at once for its reserve (below).
//
// The trade-off, chosen for availability: a quorum would stop a minority
// from creating networks; instead both sides of a partition may claim the
// same pool (each sees the other dead). After healing, the merge picks one
// claim; the loser's leases conflict with the winner's space and are
// reported in Status.Problems for an operator to recreate those containers.
// This is the only way two live leases can collide without an operator's
// mistake, and only for pools created on both sides during the partition
// (or re-created on a host that restarted inside a partition and so had
// forgotten the gossip about the pool); the space of a pool that both sides
// knew has one holder per block.
//
// # Reserves: space ahead of need
//
// Every host that has a pool open holds free space of its own in it before
// it needs it: at least one block's worth of addresses (4 in a /24, 64 in
// a /16). When its free space drops below that, Run writes a want marked
// Reserve in the background, and a holder with an empty block to spare
// beyond its own reserve hands one over. So a host cut off from the others
// (the majority cut off from the host that created the network included)
// goes on starting containers until its reserve is used up, without asking
// anyone, and the one-writer rule is untouched: a reserve is just blocks
// held. Reserves stay small (one or two blocks a host), and they are given
// back where space is short: a request that waits for space takes spare
// blocks at once and, after a quarter of SpaceTimeout without them, other
// hosts' reserves (a host with leases keeps its last free block); those
// hosts then ask for a reserve again in the background, which only spare
// space answers, so blocks move from idle hosts to busy ones and never
// back and forth. Status shows each host's reserve (HostShare.Reserve).
//
// # A starved host
//
// A host with no free address writes a want entry; holders of the pool
// with an empty block to spare hand one over (reserves too, as above), and
// the asker sees it through Subscribe. It
// waits at most Config.SpaceTimeout (default 5s), then fails with
// ErrNoSpace naming the range and the peers it asked and those unreachable.
// A static address (--ip) in another host's block is refused at once with
// ErrAddressInUse naming that host when it is leased there. Otherwise the
// asker wants that very block: its holder gives it if it is empty, or else
// lends the single address: it leases it on its own books, marked as lent,
// and writes a lend entry naming the borrower; the borrower returns it by
// deleting the entry when Docker releases it. The address stays leased on
// exactly one host's books, so the one-writer rule still holds.
//
// # Addresses handed back
//
// A container that Docker starts again (after dockerd crashed or was
// restarted, say) asks for an address with no preference. A host remembers
// the addresses it released lately, in its bbolt file too (a graceful
// dockerd stop releases the addresses, then stops the plugin), and hands
// them back: by endpoint name where Docker gives one (Docker 29), else the
// one released last (Docker 20.10); others avoid them while other addresses
// are free. It is a preference within the host's own space, never a
// reservation (handback.go).
//
// # Dead hosts
//
// The space of an unreachable host stays its own: other hosts cannot tell a
// partition from a death. RemovePeer (weavego rmpeer HOST) states that the
// host is gone for good: one live host per pool takes over its blocks and
// its leases are dropped. It is safe only if the host never comes back with
// its old state (reinstall it, or delete its weavego state, before it
// rejoins); a host that returns after being removed finds its blocks taken,
// stops using them and reports the leases that may collide. The removal
// ends there: the returned host deletes its removal marker, and takers act
// on a marker only while the removed host is away, so from then on it asks
// for and holds space like any other host. Addresses the
// removed host had lent stay reserved for their borrowers (the taker's own
// where it is the borrower); addresses lent to it are freed.
// Config.ReclaimAfter, off by default, does the same automatically after a
// host has been unreachable that long, with the same caveat, plus the risk
// that both sides of a long partition remove each other.
//
// A takeover dominates. The removed host may have written a block after
// the taker last heard from it (handed it over, or adopted one handed to
// it), each write one version up; a takeover at the next version could tie
// with such a write, and the merge would pick one by owner name with
// neither host noticing. So the taker writes the block 2^20 versions above
// the highest it knows (takeoverJump, via ClusterMap.SetAtLeast): no run of
// real writes by the removed host gets there, and mesh.MaxVersion (2^40)
// leaves room for a million takeovers of one block. A version jump was
// chosen over a takeover epoch in the value because the merge compares
// versions: an epoch would not stop gossip from keeping the removed host's
// write, while a version wins the same way on every host. In turn, a host
// whose ledger says it holds a block and that sees the block's entry
// written by another host at its own version or above, naming another
// holder, knows the block was taken (only a holder writes a held block):
// it leases no more from it, logs a warning naming the block, its
// addresses, the taker and its leases there, and keeps them in
// Status.Problems until those containers are gone. The price: a block the
// removed host handed to a third host just before, whose adoption the
// taker had not heard of (they were cut off from each other too), is taken
// as well, and that host reports its leases there in the same way.
//
// # Mismatched ranges
//
// Every host announces its IPALLOC_RANGE. While a reachable host announces
// another one, RequestPool fails with ErrRangeMismatch naming both ranges;
// existing pools keep working. Saved state made with another range is
// refused at startup, never rewritten.
//
// # Locking
//
// Allocator.mu guards all state and is held across ClusterMap calls (which
// never call back); it is never held while waiting for other hosts. Writes
// to the bbolt file are queued under it, in the order of the changes they
// mirror, and committed in groups (commit.go): RequestAddress and
// ReleaseAddress wait for their write without it, so that concurrent
// requests share an fsync; every other write is waited for under it.
package ipalloc
