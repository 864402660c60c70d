package main

import (
	"slices"

	"github.com/weavego/weavego/mesh"
)

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
