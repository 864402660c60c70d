package reconcile

import (
	"context"

	"github.com/weavego/weavego/internal/dockerapi"
)

// aliasCache holds the network aliases of each attachment the last name
// pass saw, so that a pass inspects only the containers attached (or
// renamed) since: without it every Docker event and every resync inspected
// every container on every weavego network, work that grew with the
// containers of the host and competed with Docker for its CPU while it
// started the very container that caused the event.
//
// Aliases are fixed when a container connects to a network: a new
// connection is a new endpoint ID, so the endpoint ID (with the container's
// name, which a rename changes) keys the entry. Only the Docker loop uses
// it, so it has no lock.
type aliasCache struct {
	entries map[string]aliasEntry // by Docker endpoint ID
}

type aliasEntry struct {
	name    string
	aliases []string
}

// pass starts a name pass: entries not asked for during it are dropped at
// done, so the cache holds only current attachments.
func (c *aliasCache) pass() *aliasPass {
	return &aliasPass{c: c, seen: map[string]aliasEntry{}}
}

// aliasPass is one pass over the attachments.
type aliasPass struct {
	c    *aliasCache
	seen map[string]aliasEntry
}

// aliases returns the aliases of container cid on network netID, attached
// as att, inspecting the container only when the cache has no entry for the
// attachment. A failed inspection is not cached: the next pass asks again.
func (p *aliasPass) aliases(ctx context.Context, docker Docker, cid, netID string, att dockerapi.Attachment) []string {
	if e, ok := p.c.entries[att.EndpointID]; ok && att.EndpointID != "" && e.name == att.Name {
		p.seen[att.EndpointID] = e
		return e.aliases
	}
	c, err := docker.Container(ctx, cid)
	if err != nil {
		return nil
	}
	var aliases []string
	if cn, ok := c.Networks[netID]; ok {
		aliases = cn.Aliases
	}
	if att.EndpointID != "" {
		p.seen[att.EndpointID] = aliasEntry{name: att.Name, aliases: aliases}
	}
	return aliases
}

// done makes the pass's entries the cache.
func (p *aliasPass) done() { p.c.entries = p.seen }
