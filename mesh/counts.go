package mesh

// KindCounts returns the number of live entries per kind, for metrics.
func (m *Mesh) KindCounts() map[string]int { return m.store.kindCounts() }

func (s *store) kindCounts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for _, r := range s.records {
		if !r.e.Deleted {
			out[r.e.Kind]++
		}
	}
	return out
}
