// Package mesh is weavego's cluster layer: one Mesh per Docker host, each a
// hashicorp/memberlist member gossiping on TCP and UDP port 6783.
//
// # What it owns
//
// Membership: which peers exist, their underlay address and whether they are
// alive, suspect, dead or left (Peers, Alive, Members).
//
// A replicated map of entries identified by (Kind, Key) whose values are
// opaque bytes. Other packages store networks, endpoints, names and address
// ranges in it; mesh never interprets them, and never touches the kernel or
// Docker. Consumers call Subscribe and re-read List after each signal.
//
// # Merge rule
//
// Every write carries a Version one higher than the highest the writer
// knows for the key. Between two versions of an entry the greater of
// (Version, Owner, Deleted, Value) wins, so keeping the greatest is
// commutative, associative and idempotent: peers that saw the same writes,
// in any order and any number of times, hold the same map. A merge that
// does not change the map is not passed on.
//
// # Dissemination
//
// A write is broadcast through memberlist's transmit-limited gossip queue;
// peers that apply it pass it on. Every PushPullInterval each peer also
// syncs with a random peer, so an update that a peer missed, for instance
// while partitioned, is repaired within a few push/pull rounds. Unlike
// Docker's NetworkDB, a missed broadcast is never lost for good. Entries
// too large for a gossip packet go over TCP to every member instead.
//
// While any member runs the release before format 3, a push/pull carries
// the full map (tombstones included). Once every member reads format 3
// (delegate protocol 2), it carries a summary, per writer a watermark, a
// count and a digest, and a peer asks over TCP for the records of only the
// writers on which the two differ, which come in chunks of at most 1 MiB
// (sync.go): an idle push/pull costs the summary, whatever the map's size,
// and a join fetches the map chunk by chunk.
//
// # Timing bounds (defaults, LAN)
//
// Failure detection: each peer probes one other every 500 ms (250 ms ack
// timeout, then indirect and TCP probes). A failed probe makes the peer
// suspect; unless it refutes, it is declared dead after the suspicion
// timeout, 3 x 500 ms = 1.5 s with one confirming peer and 3 s without,
// for up to 10 hosts (it grows with log10 of the cluster size). Adding up
// to two probe intervals before some peer probes it and three gossip rounds
// to spread the verdict, a host that stops answering is seen as dead by all
// others typically within 2-3 s and within 5.1 s for up to 10 hosts
// (detectionBound; about 8 s for 100 hosts). SWIM is probabilistic: if by
// chance no peer probes the host in its first two intervals, add up to
// 0.5 s per further interval.
//
// Push/pull: a sync every 10 s with one random peer (memberlist slows
// this down above 32 hosts), so a missed update is repaired in about 10 s
// and in all peers within a few rounds.
//
// Tombstones: a deleted entry is remembered for TombstoneTTL (10 min) from
// the moment each peer stored the tombstone, by that peer's own clock (the
// deleter's stamp still travels, but only as a tie-breaker), then reaped
// within a further TombstoneTTL/10. A peer also remembers, for another
// TombstoneTTL and without gossiping it, each tombstone it reaped, and
// refuses it and the entry it deleted from a peer that stored it a little
// later or returns with an old copy; so a tombstone is not passed back and
// forth, and host clocks need not agree. A peer away for longer than
// TombstoneTTL may still bring back an entry deleted while it was away:
// consumers that care drop old kinds from a stale saved state (the plugin
// does so for network definitions) and never republish what they did not
// write (package reconcile).
//
// # Admission
//
// Every record this peer did not write itself (broadcast, direct message,
// push/pull, Restore from disk) passes one gate, admitAndMerge, before it
// is merged: mesh's own bounds (kind, key and owner length and text,
// MaxValueBytes, versions 1..MaxVersion so that no later write wraps,
// tombstones without value and not stamped in the future), then the
// validator its kind registered in Config.Validators (a kind with none is
// rejected), then the replay rule, then a cap per owner on entries and
// bytes held and a cap on the whole map (MaxMapBytes). A refused
// record changes nothing; it is counted per owner and kind (Rejected) and
// the first refusal of each owner is logged. Checks that need membership,
// such as "a VTEP is its writer's address", belong to the consumer.
//
// # Format versions
//
// Peers of two releases share a cluster during a rolling upgrade, so every
// release reads what the one before it writes and skips what a newer one
// adds. Each gossip message starts with its format number. Format 1 is the
// compact layout of codec.go, which the release before format 3 wrote and
// this one still reads. From format 2 on (format.go) each entry is framed
// by its length: a reader takes the fields it knows from a frame and skips
// the rest, ignores flag bits, message types and trailing bytes it does
// not know, and drops a frame it cannot read alone, keeping the other
// entries of the message. This release writes format 3: each frame adds
// the write's Seq and each full state ends with a summary; the release
// before it reads format 3 as format 2 (without Seq, without summary).
// Upgrades go one release at a time. memberlist's delegate protocol is
// 1 (min 1, max 2), so that the next release may speak 2 beside this one.
//
// # Replay
//
// Gossip is authenticated but memberlist has no replay protection, so
// mesh makes an old message harmless itself, without clocks: every write
// carries (Owner, Seq), Seq being the writer's counter over all its writes
// (seq.go), and each peer keeps per writer a watermark below which it holds
// every write or what replaced it, raised by its own writes and by the
// summaries of full states (watermarks.go). A write at or below its
// watermark that would replace what the peer holds is a replay and is
// ignored (Stats.Stale): a write recorded before a deletion and replayed
// after the tombstone was reaped, or a recorded tombstone replayed after
// the key was written again. The epoch and watermarks are saved with the
// map. Records of the release before format 3 carry no Seq and are merged
// as before; each host writes its own anew with one after its first full
// state from a peer.
//
// Entries carry their own version through their kind: a new kind of entry,
// or a new encoding of an old one under a new kind, is unknown to an older
// peer. Such a record is not merged, not passed on and not acted upon; it
// is counted (Stats.NotUnderstood) and logged once per kind, not counted
// as a rejection, since a peer cannot check what it does not know. Peers
// of the newer release exchange it among themselves by gossip and
// push/pull. Values of known kinds are JSON that consumers decode without
// refusing fields they do not know, so a newer release may add fields.
//
// # Security
//
// With Keys, gossip is encrypted and authenticated with AES-GCM under the
// primary key and received under any installed key (memberlist's keyring),
// so keys rotate without downtime: install, use, remove (InstallKey,
// UseKey, RemoveKey). A peer without a shared key cannot join and the log
// says so in one sentence. KeyRollout moves an open cluster to a key
// without downtime. Without Keys the cluster is open: anyone who reaches
// the port joins. mesh never derives or stores keys; its caller does.
// Before a stream is authenticated it costs a bounded amount: a guard in
// front of memberlist's transport (guard.go, transport.go) bounds streams
// per source and in all, reads at most MaxStreamBytes within a fixed
// deadline from a shared budget, and hands memberlist only streams that
// an installed key opens; datagrams of non-members share one rate.
// Gossip binds the advertised underlay address by default. Entries too
// large for gossip wait in one bounded queue for one sender goroutine.
// memberlist's own log lines are turned into slog records.
package mesh
