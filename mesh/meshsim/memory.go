package meshsim

import (
	"runtime"
)

// MemoryPer10k measures the heap one replica of cfg's protocol holds for
// 10,000 endpoints of the workload (an endpoint and a name entry each,
// written by 200 hosts of 50 containers), as runtime.MemStats reports
// after a collection.
func MemoryPer10k(cfg Config) uint64 {
	cfg = cfg.withDefaults()
	s := &Sim{cfg: cfg}
	s.rnd = New(Config{Seed: cfg.Seed, Protocol: cfg.Protocol}).rnd
	s.work = newWorkload(s)
	s.track = newTracker(s)
	const hosts, per = 200, 50
	seed := cfg.Protocol.NewNode("seed")
	for range hosts {
		h := s.addHost()
		s.work.joinNetwork(h)
		for range per {
			s.work.create(h)
		}
		if _, err := seed.Gossip(h.node.State()); err != nil {
			panic("meshsim: memory: " + err.Error())
		}
		s.hosts[h.id] = nil // only the measured replica stays
	}
	all := seed.State()
	seed = nil
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	n := cfg.Protocol.NewNode("measured")
	if _, err := n.Gossip(all); err != nil {
		panic("meshsim: memory: " + err.Error())
	}
	// all is dead past its last use: the collection below frees it.
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(n)
	return after.HeapAlloc - before.HeapAlloc
}
