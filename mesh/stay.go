package mesh

// StayOnStop makes Run, when its context ends, stop without telling the
// others that this peer leaves. For a restart or an upgrade of the plugin
// with containers running: the others see this peer suspect, then dead
// only if it is not back within their failure detection (see "Timing
// bounds"), so its entries, and the forwarding entries built from them,
// stay in place while it restarts, and it refutes the suspicion when it
// is back. Without it, a stopping peer says goodbye and the others
// withdraw its entries at once.
func (m *Mesh) StayOnStop() { m.stayOnStop.Store(true) }

// stopStaying shuts gossip down without a leave message.
func (m *Mesh) stopStaying() error {
	err := m.Close()
	m.log.Info("mesh stopped without leaving: the other peers keep this one's entries while it restarts",
		"peer", m.name)
	return err
}
