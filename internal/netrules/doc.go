// Package netrules holds the rules every weavego network address must obey,
// written once and used both where a user creates a network (the IPAM
// driver) and where a network, endpoint or name arrives from another host
// (the per-kind validators of the replicated state).
//
// It owns only pure checks on values: it never reads the kernel, Docker or
// the replicated state. Every error is a sentence a user can act on.
package netrules
