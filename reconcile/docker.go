package reconcile

import (
	"context"
	"time"

	"github.com/docker/docker/api/types/events"

	"github.com/weavego/weavego/driver"
	"github.com/weavego/weavego/internal/dockerapi"
)

// Docker is the agent's view of the local Docker API.
type Docker interface {
	Ping(ctx context.Context) error
	Networks(ctx context.Context, drivers ...string) ([]dockerapi.Network, error)
	CreateNetwork(ctx context.Context, n dockerapi.Network) (string, error)
	RemoveNetwork(ctx context.Context, idOrName string) error
	Container(ctx context.Context, id string) (dockerapi.Container, error)
	Events(ctx context.Context) (<-chan events.Message, <-chan error)
	PluginName(ctx context.Context, socket string) (string, error)
}

// OptReplica marks a network the agent created on this host because it exists
// elsewhere in the cluster; its value is the host it came from.
const OptReplica = driver.OptReplica

// Socket is the plugin's socket name, by which the agent finds its own name.
const Socket = "weavego.sock"

// retrySoonAfter is the next pass's delay when a network could not be
// created yet (Docker may still hold the one just removed under that name).
const retrySoonAfter = 100 * time.Millisecond

// callTimeout bounds every Docker API call of a pass.
const callTimeout = 10 * time.Second

// dockerLoop keeps the local Docker engine's weavego networks in line with the
// cluster's definitions and publishes container names. While the Docker API is
// down (as while the daemon starts its plugins) it retries with backoff.
func (a *Agent) dockerLoop(ctx context.Context) {
	events := a.watchEvents(ctx)
	tick := time.NewTicker(a.cfg.Resync)
	defer tick.Stop()
	backoff := time.Second
	for {
		a.mu.Lock()
		a.retrySoon = false
		a.mu.Unlock()
		err := a.syncDocker(ctx)
		wait := a.cfg.Resync
		a.mu.Lock()
		if a.retrySoon {
			wait = min(wait, retrySoonAfter)
		}
		a.mu.Unlock()
		if err != nil {
			a.log.Warn("sync with Docker", "err", err, "retry_in", backoff)
			wait, backoff = backoff, min(2*backoff, 30*time.Second)
		} else {
			backoff = time.Second
		}
		retry := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			retry.Stop()
			return
		case <-a.kickDocker:
			a.coalesce(ctx, events)
		case <-events:
			a.coalesce(ctx, events)
		case <-tick.C:
		case <-retry.C:
		}
		retry.Stop()
	}
}

// coalesceWindow is how long a pass waits after the first Docker event or
// driver call: one `docker run` brings about ten (create, connect, start and
// the driver's CreateEndpoint and Join within tens of milliseconds), and a
// pass for each made the plugin ask Docker about its networks while Docker
// was busy starting the container. Names are published that much later.
const coalesceWindow = 50 * time.Millisecond

// coalesce waits coalesceWindow and drops the kicks and events that came
// meanwhile: the pass that follows sees all of them.
func (a *Agent) coalesce(ctx context.Context, events <-chan struct{}) {
	t := time.NewTimer(coalesceWindow)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return
	case <-t.C:
	}
	for _, ch := range []<-chan struct{}{a.kickDocker, events} {
		select {
		case <-ch:
		default:
		}
	}
}

// watchEvents follows Docker's network and container events, reconnecting
// after errors, and signals on the returned channel after each.
func (a *Agent) watchEvents(ctx context.Context) <-chan struct{} {
	out := make(chan struct{}, 1)
	go func() {
		for ctx.Err() == nil {
			msgs, errs := a.docker.Events(ctx)
			a.followEvents(ctx, msgs, errs, out)
			select {
			case <-ctx.Done():
			case <-time.After(2 * time.Second):
			}
		}
	}()
	return out
}

func (a *Agent) followEvents(ctx context.Context, msgs <-chan events.Message, errs <-chan error, out chan struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case err := <-errs:
			a.log.Debug("docker event stream ended; reconnecting", "err", err)
			return
		case m := <-msgs:
			switch m.Action {
			case "connect", "disconnect", "start", "die", "destroy", "rename", "create", "stop":
				a.log.Debug("docker event", "type", m.Type, "action", m.Action, "id", m.Actor.ID)
				kick(out)
			}
		}
	}
}

// syncDocker makes one pass over networks and names.
func (a *Agent) syncDocker(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 4*callTimeout)
	defer cancel()
	name, err := a.pluginName(ctx)
	if err != nil {
		return err
	}
	local, err := a.docker.Networks(ctx, name)
	if err != nil {
		return err
	}
	a.learnNames(local)
	a.syncNetworks(ctx, name, local)
	a.syncNames(ctx, local)
	return nil
}

func (a *Agent) pluginName(ctx context.Context) (string, error) {
	if a.cfg.PluginName != "" {
		return a.cfg.PluginName, nil
	}
	name, err := a.docker.PluginName(ctx, Socket)
	if err != nil {
		return "", err
	}
	a.cfg.PluginName = name // only the Docker loop reads and writes it
	return name, nil
}

func (a *Agent) learnNames(local []dockerapi.Network) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, n := range local {
		a.names[n.ID] = n.Name
	}
}
