package datapath

// RemoteCounts returns how many FDB entries (one per remote MAC and one
// all-zero entry per flood VTEP) and neighbour entries (one per remote
// address) the datapath keeps on its VXLAN devices: the desired state that
// SetRemotes makes the kernel match, summed over networks. It is for
// metrics and reads no kernel table.
func (m *Manager) RemoteCounts() (fdb, neigh int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, st := range m.remotes {
		fdb += len(st.remotes) + len(st.flood)
		neigh += len(st.remotes)
	}
	return fdb, neigh
}
