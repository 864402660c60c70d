package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/weavego/weavego/mesh"
)

// connectTimeout bounds the join `weavego connect` waits for; the CLI
// gives up after 15 s.
const connectTimeout = 10 * time.Second

// mergePeers is PEERS plus the saved run-time peers, normalised to
// host:port, each once, PEERS first.
func mergePeers(setting, saved []string) []string {
	var out []string
	for _, p := range append(slices.Clone(setting), saved...) {
		addr, err := mesh.NormalizePeer(p)
		if err != nil || slices.Contains(out, addr) {
			continue
		}
		out = append(out, addr)
	}
	return out
}

// startPeers is what the mesh joins at start: PEERS and the saved peers.
func (p *parts) startPeers() []string {
	saved, err := p.rpeers.Load()
	if err != nil {
		p.log.Warn("peers added with weavego connect are not joined", "err", err)
	}
	return mergePeers(p.set.Peers, saved)
}

// connectPeer adds host to the peers joined now and after restarts.
func (p *parts) connectPeer(ctx context.Context, host string) (string, error) {
	addr, err := mesh.NormalizePeer(host)
	if err != nil {
		return "", fmt.Errorf("%q is not host[:port]: %w", host, err)
	}
	if err := p.rpeers.Change(func(l []string) []string {
		if slices.Contains(l, addr) {
			return l
		}
		return append(l, addr)
	}); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if _, err := p.mesh.Connect(ctx, addr); err != nil {
		return "", fmt.Errorf("added %s to the peers, but joining it failed for now (retried in the background): %v; "+
			"check that TCP and UDP %s reach it and that it runs weavego with the same KEY", addr, err, portOf(addr))
	}
	return fmt.Sprintf("connected to %s (%d members); kept across restarts, `weavego forget %s` drops it",
		addr, p.mesh.Members(), host), nil
}

// forgetPeer removes host from the peers joined now and after restarts.
func (p *parts) forgetPeer(host string) (string, error) {
	addr, wasTarget, err := p.mesh.Forget(host)
	if err != nil {
		return "", fmt.Errorf("%q is not host[:port]: %w", host, err)
	}
	saved := false
	if err := p.rpeers.Change(func(l []string) []string {
		n := len(l)
		l = slices.DeleteFunc(l, func(s string) bool { return s == addr })
		saved = len(l) != n
		return l
	}); err != nil {
		return "", err
	}
	inSetting := slices.Contains(mergePeers(p.set.Peers, nil), addr)
	switch {
	case !wasTarget && !saved:
		return "", fmt.Errorf("%s is not among the peers this host joins: see `weavego status --json` (Peers)", addr)
	case inSetting:
		return fmt.Sprintf("forgot %s until the plugin restarts: it is in the PEERS setting; remove it there "+
			"(docker plugin set) to forget it for good", addr), nil
	}
	return fmt.Sprintf("forgot %s: no longer joined; a member stays one until it leaves "+
		"(`weavego rmpeer NAME` takes over the address space of a host gone for good)", addr), nil
}

func portOf(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[i+1:]
		}
	}
	return fmt.Sprint(mesh.DefaultPort)
}
