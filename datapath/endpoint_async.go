package datapath

import (
	"context"
	"fmt"
	"time"
)

// Deleting a veth takes the kernel some 20 ms (it waits for an RCU grace
// period), and Docker waits for DeleteEndpoint before it finishes removing
// a container: the driver, once it has forgotten an endpoint, has its pair
// deleted in the background. Each background delete holds mu like any
// other change, so it never races with DeleteNetwork or Park over the
// namespace handles. The endpoint stays listed in pendingDeletes until its
// delete runs: CreateEndpoint with the same ID deletes the old pair first
// and takes it off the list, so a late background delete never removes a
// new pair. A delete that the process does not live to run, or that fails,
// leaves a pair no endpoint claims; SweepEndpoints removes those at the
// next start.

// closeWait bounds how long Close waits for the background deletes: each
// takes tens of milliseconds, and what is left is swept at the next start.
const closeWait = 2 * time.Second

// DeleteEndpointAsync removes the veth pair of the endpoint in the
// background, as DeleteEndpoint would, and returns at once, without waiting
// for mu. Failures are logged. WaitDeletes waits for the deletes started so
// far; Park and Close do so first.
func (m *Manager) DeleteEndpointAsync(networkID, endpointID string) {
	m.pendMu.Lock()
	defer m.pendMu.Unlock()
	if m.closed {
		return
	}
	m.pendingDeletes[endpointID] = networkID
	m.deletes.Go(func() { m.deletePending(endpointID) })
}

// deletePending runs the background delete of endpointID unless it ran
// already (CreateEndpoint or DeleteEndpoint of the same ID) or the Manager
// is closed.
func (m *Manager) deletePending(endpointID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pendMu.Lock()
	networkID, ok := m.pendingDeletes[endpointID]
	delete(m.pendingDeletes, endpointID)
	closed := m.closed
	m.pendMu.Unlock()
	if !ok || closed {
		return
	}
	if err := m.deleteEndpoint(networkID, endpointID); err != nil {
		m.log.Warn("background delete of an endpoint's veth pair failed; the next start sweeps it",
			"network", networkID, "endpoint", endpointID, "err", err)
	}
}

// WaitDeletes waits until the background deletes started so far have run,
// or ctx ends. It must not be called with mu held.
func (m *Manager) WaitDeletes(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		m.deletes.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for background deletes of veth pairs: %w", ctx.Err())
	}
}

// takePending removes endpointID from the pending deletes and reports
// whether it was there, with its network. mu is held.
func (m *Manager) takePending(endpointID string) (networkID string, ok bool) {
	m.pendMu.Lock()
	defer m.pendMu.Unlock()
	networkID, ok = m.pendingDeletes[endpointID]
	delete(m.pendingDeletes, endpointID)
	return networkID, ok
}
