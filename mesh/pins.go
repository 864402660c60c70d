package mesh

import "maps"

// A member could write an entry at the highest admitted version,
// MaxVersion: every later write of that key would be MaxVersion+1, which
// every host refuses, so the entry could never change again. No run of real
// writes, nor of address-space takeovers (2^20 each, package ipalloc), comes
// near pinVersion; so when a host is removed (weavego rmpeer), each host
// drops the removed host's entries above pinVersion and refuses them from
// then on, and the key is written anew from version 1. The removed host's
// other entries stay: ipalloc's removal relies on them (addresses it lent
// stay reserved for their borrowers).
const pinVersion = MaxVersion / 2

// ClearPins sets the hosts removed from the cluster, replacing the last set:
// their entries above pinVersion are dropped and refused. The caller (the
// address allocator, which records removals in the map) passes the same set
// on every host. It returns how many entries it dropped.
func (m *Mesh) ClearPins(removed []string) int {
	n := m.store.clearPins(removed)
	if n > 0 {
		m.log.Warn("dropped entries of removed hosts written at versions no real write reaches (pins); "+
			"their keys are written anew", "entries", n, "removed", removed)
		m.subs.notify()
	}
	return n
}

// ClearPins is Mesh.ClearPins.
func (r *Replica) ClearPins(removed []string) int {
	n := r.store.clearPins(removed)
	if n > 0 {
		r.subs.notify()
	}
	return n
}

func (s *store) clearPins(removed []string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	set := make(map[string]bool, len(removed))
	for _, o := range removed {
		set[o] = true
	}
	if maps.Equal(set, s.cleared) && s.cleared != nil {
		return 0 // the caller passes the set at every change: look only when it changed
	}
	s.cleared = set
	n := 0
	for k, r := range s.records {
		if s.pinned(r) {
			s.drop(k)
			n++
		}
	}
	for k, r := range s.reaped {
		if s.pinned(r) {
			delete(s.reaped, k)
		}
	}
	return n
}

// pinned reports whether r is an entry of a removed host above pinVersion,
// or one above MaxVersion: only this host's own write after a pin gets
// there, which no other host admits; mu is held.
func (s *store) pinned(r record) bool {
	return r.e.Version > MaxVersion || r.e.Version > pinVersion && s.cleared[r.e.Owner]
}
