// Package dnsd is the per-host DNS server of weavego.
//
// Design note. dnsd owns three things: an in-memory record table (Table) that
// maps container names and aliases to addresses per network, a dns.Handler
// (Handler) that answers from that table or forwards to upstream resolvers,
// and a set of UDP+TCP listeners (Server) on the gateway addresses of the
// weavego networks on this host (IPv4 and IPv6) and on one service address
// (DNS_ADDR, on every weavego bridge as a /32, routed to from every
// container), and one IPv6 one where set (DNS_ADDR6, a /128 on the bridges
// of networks with IPv6).
//
// dnsd never decides which records exist: the caller recomputes the full set
// from replicated state and hands it to Table.Replace, which builds a new
// immutable index and swaps it in with one atomic store, so lookups take no
// lock. dnsd never assigns addresses and never touches interfaces or routes
// either: Server.SetNetworks is told which networks are served, after the
// datapath has configured their addresses.
//
// Who asks. A request that reaches a listener arrived in the namespace of
// one weavego network (each has its own), and is from a client of that
// network: its source address must lie in that network's subnet, or it is a
// stranger there (a container can forge source addresses of its own subnet,
// never become a client of another network). Where several networks share
// a namespace (Served.NetNS ""), the source address picks among them: the
// subnets of one host never overlap. The table knows, from the records (Record.Container)
// and from members (Member: a local sandbox, known at once at Join), which
// container owns that address, and so every network that container is
// attached to, cluster-wide. That set is the client's scope. A request whose
// source is spoofed is answered to the spoofed address, as any UDP service.
//
// Answering rules, in order:
//   - a request beyond the answer rate of the network it arrived on (a
//     quarter of Config.AnswerRate), or of the host (AnswerRate), is dropped
//     unanswered as it is read, before the library starts a goroutine for
//     it (over TCP: before it is unpacked; counted as Throttled): a flood
//     of names, NXDOMAINs or garbage costs a bounded share of the CPU;
//   - a request from outside every served subnet gets REFUSED: dnsd is no
//     open resolver and tells strangers no names (counted as Strangers);
//   - malformed or unsupported requests get FORMERR, NOTIMP (opcode other than
//     QUERY) or REFUSED (class other than IN/ANY, zone transfers);
//   - NAME. (a single label) and NAME.DOMAIN. get the A/AAAA records of NAME
//     on the networks of the client's scope only (all of them, shuffled per
//     response), NODATA for other types. A name with dots ("example.org", an
//     alias) answers only as example.org.DOMAIN.: names outside DOMAIN with
//     more than one label never come from the table, so no alias shadows an
//     outside name. Case-insensitive;
//   - reverse names of addresses in the client's scope get PTR records to
//     NAME.DOMAIN.;
//   - any other name under DOMAIN gets NXDOMAIN (we are authoritative there);
//   - a client in a served subnet that no record or member names (a stranger
//     to the table) gets no table names: NXDOMAIN under DOMAIN, forwarding
//     otherwise;
//   - a client on an --internal network (Served.Internal) gets REFUSED for
//     everything else: such a network has no egress, and a forwarded query
//     is egress (data in the name; counted as Internal);
//   - everything else, including unknown single-label names and reverse names
//     out of scope, is forwarded to the upstream resolvers over the client's
//     transport, each tried in turn with a per-try timeout; SERVFAIL when none
//     answers. Each client address has a forwarding budget (a token bucket,
//     DefaultClientRate per second, burst DefaultClientBurst, at most
//     DefaultMaxClients remembered); beyond it a forward gets REFUSED
//     (counted as OverBudget); each network has a budget of ten clients'
//     too. A network has at most netReserve forwards in flight of its own
//     plus a quarter of the host's pool of maxInflight, so that a container
//     that cycles source addresses and asks for names that never answer
//     fills its own network's share only: other networks' clients still get
//     answers, not SERVFAIL.
//
// Over TCP, a client holds at most maxConnsPerClient connections open to
// one listener, and a listener maxConnsPerListener; further connections
// are closed at once (counted as ConnsRefused).
package dnsd
