// Package dnsd is the per-host DNS server of weavego.
//
// Design note. dnsd owns three things: an in-memory record table (Table) that
// maps container names and aliases to addresses, a dns.Handler (Handler) that
// answers from that table or forwards to upstream resolvers, and a set of
// UDP+TCP listeners (Server) on the gateway addresses of the weavego networks
// on this host. Containers reach it through Docker's embedded resolver, which
// forwards every name it does not know to the gateway.
//
// dnsd never decides which records exist: the caller recomputes the full set
// from replicated state and hands it to Table.Replace, which builds a new
// immutable index and swaps it in with one atomic store, so lookups take no
// lock. dnsd never assigns addresses and never touches interfaces either:
// Server.SetListenAddrs is told which addresses to listen on, after the
// datapath has configured them.
//
// Answering rules, in order:
//   - malformed or unsupported requests get FORMERR, NOTIMP (opcode other than
//     QUERY) or REFUSED (class other than IN/ANY, zone transfers);
//   - NAME. and NAME.DOMAIN. that are in the table get A/AAAA records (all of
//     them, shuffled per response), NODATA for other types;
//   - reverse names of table addresses get PTR records to NAME.DOMAIN.;
//   - any other name under DOMAIN gets NXDOMAIN (we are authoritative there);
//   - everything else, including unknown single-label names, is forwarded to
//     the upstream resolvers over the client's transport, each tried in turn
//     with a per-try timeout; SERVFAIL when none answers.
package dnsd
