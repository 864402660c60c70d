package reconcile

import "github.com/weavego/weavego/driver"

// Local is the agent's view of this host's networks and endpoints, which
// the driver owns: the agent keeps no copy, it reads a snapshot on each
// pass. Driver callbacks (NetworkChanged, EndpointChanged) only say that
// something changed. *driver.Driver implements it.
type Local interface {
	// Networks returns a copy of the local networks.
	Networks() []driver.Network
	// Endpoints returns a copy of the local endpoints.
	Endpoints() []driver.Endpoint
}

// noLocal is the Local of an agent given none: a host without networks.
type noLocal struct{}

func (noLocal) Networks() []driver.Network   { return nil }
func (noLocal) Endpoints() []driver.Endpoint { return nil }

// localState is one snapshot of Local.
type localState struct {
	networks  map[string]driver.Network // by Docker ID
	endpoints []driver.Endpoint
}

// snapshot reads Local, never with mu held (see the lock notes on Agent).
func (a *Agent) snapshot() localState {
	s := localState{networks: map[string]driver.Network{}, endpoints: a.local.Endpoints()}
	for _, n := range a.local.Networks() {
		s.networks[n.ID] = n
	}
	return s
}
