package pluginapi

import (
	"sync"
	"time"
)

// Docker keeps per-endpoint state in the driver object it builds for a
// plugin (on Docker 29: the endpoints it has joined, which
// ProgramExternalConnectivity looks up). When a plugin restarts, Docker builds
// a new object only after the new process answers
// NetworkDriver.GetCapabilities, about half a second after it starts. An
// endpoint created and joined through the old object in that window is unknown
// to the new one, and the container fails to start with "remote network
// driver: endpoint ... not found".
//
// registration closes that window: CreateEndpoint and Join wait until Docker
// has (re)registered the driver (its GetCapabilities call, plus settle for
// Docker to install the object), or until limit after start, whichever comes
// first, so a Docker that never asks delays nothing for longer than limit.
type registration struct {
	done chan struct{}
	once sync.Once
	// settle is the wait after GetCapabilities for Docker to install the
	// driver object it built from the answer.
	settle time.Duration
}

const (
	registrationLimit  = 5 * time.Second
	registrationSettle = 100 * time.Millisecond
)

func newRegistration(limit, settle time.Duration) *registration {
	r := &registration{done: make(chan struct{}), settle: settle}
	time.AfterFunc(limit, r.open)
	return r
}

func (r *registration) open() { r.once.Do(func() { close(r.done) }) }

// registered notes Docker's GetCapabilities call.
func (r *registration) registered() { time.AfterFunc(r.settle, r.open) }

// wait returns once Docker has registered the driver, or the limit passed.
func (r *registration) wait() { <-r.done }
