package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/weavego/weavego/datapath"
	"github.com/weavego/weavego/dnsd"
	"github.com/weavego/weavego/driver"
	"github.com/weavego/weavego/internal/dockerapi"
	"github.com/weavego/weavego/internal/statefile"
	"github.com/weavego/weavego/ipalloc"
	"github.com/weavego/weavego/ipamdriver"
	"github.com/weavego/weavego/mesh"
	"github.com/weavego/weavego/plugin/control"
	"github.com/weavego/weavego/plugin/keyring"
	"github.com/weavego/weavego/plugin/metrics"
	"github.com/weavego/weavego/plugin/settings"
	"github.com/weavego/weavego/plugin/status"
	"github.com/weavego/weavego/pluginapi"
	"github.com/weavego/weavego/reconcile"
	"github.com/weavego/weavego/tunnel"
)

// socketPath is where Docker looks for a managed plugin's socket.
const socketPath = "/run/docker/plugins/" + reconcile.Socket

// netnsDir is where the namespaces of the networks are pinned: config.json's
// propagatedMount, which Docker makes a shared mount of a host directory, so
// the pins (and with them the networks) outlive a crash of the plugin's
// process. Docker unmounts it when it stops the plugin for good: see park.
const netnsDir = "/run/weavego/netns"

// parts are the running pieces of the daemon.
type parts struct {
	set settings.Settings
	sec status.Security // fixed at start; Keys is filled in by report
	// legacyKey is the keyring.Fingerprint of the unsalted key an older
	// weavego derived from PASSWORD, "" if none: the security mode is
	// keyring.ModeLegacy while it is the primary key.
	legacyKey string
	log       *slog.Logger
	store     *statefile.Store
	mesh      *mesh.Mesh
	dp        *datapath.Manager
	alloc     *ipalloc.Allocator
	dns       *dnsd.Server
	table     *dnsd.Table
	agent     *reconcile.Agent
	driver    *driver.Driver
	ipam      *ipamdriver.Driver

	metrics *metrics.Metrics
	rpeers  *mesh.SavedPeers // peers added with weavego connect
	// pluginSocket is where Docker talks to the plugin: socketPath.
	pluginSocket string
	// staleState: the saved gossip state was older than the tombstone lifetime.
	staleState bool
	vtep       netip.Addr // this host's underlay address
	// tun is the WireGuard device of encrypted networks; nil when this host
	// cannot encrypt, and cannotEncrypt says why.
	tun           *tunnel.Tunnel
	cannotEncrypt error
	// engine is what the plugin learnt of the Docker engine.
	engine *engineWatch
}

// runDaemon runs the plugin with the settings in getenv until ctx ends.
func runDaemon(ctx context.Context, getenv func(string) (string, bool), stderr io.Writer) error {
	return runDaemonAt(ctx, socketPath, getenv, stderr)
}

// runDaemonAt runs the plugin serving Docker on pluginSocket. A setting or
// key that keeps it from starting makes it refuse (see refuse) rather than
// exit, and start again once a key is given.
func runDaemonAt(ctx context.Context, pluginSocket string, getenv func(string) (string, bool), stderr io.Writer) error {
	set, perr := settings.Parse(getenv)
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: set.LogLevel}))
	// The first line of every run says which version runs (docker plugin upgrade, mixed clusters).
	log.Info("weavego "+version, "version", version)
	for {
		err := perr
		if err != nil {
			err = refusal{fmt.Errorf("invalid settings, not starting: %w", oneLine(err))}
		} else {
			var p *parts
			if p, err = build(set, log); err == nil {
				defer p.close()
				p.pluginSocket = pluginSocket
				return p.serve(ctx)
			}
		}
		var r refusal
		if !errors.As(err, &r) {
			return err
		}
		retry, err := refuse(ctx, refuseConfig{PluginSocket: pluginSocket, ControlSocket: filepath.Join(set.StateDir, control.SocketName),
			ControlGroup: set.ControlGroup, StateDir: set.StateDir, Reason: r.err, Log: log})
		if !retry {
			return err
		}
	}
}

// build opens the state and wires the parts together.
func build(set settings.Settings, log *slog.Logger) (p *parts, err error) {
	p = &parts{set: set, log: log}
	opened := p // the returns below set p to nil
	defer func() {
		if err != nil {
			opened.close()
		}
	}()
	if p.store, err = statefile.Open(filepath.Join(set.StateDir, "weavego.db")); err != nil {
		return nil, err
	}
	if unknown, err := p.store.Check(); err == nil && len(unknown) > 0 {
		log.Info("the state file holds buckets this version does not use (a newer version's?); they are left alone",
			"buckets", unknown)
	}
	vtep := set.AdvertiseAddr
	if !vtep.IsValid() {
		if vtep, err = underlayAddr(); err != nil {
			return nil, err
		}
	}
	p.rpeers = mesh.NewSavedPeers(p.store.For(statefile.OwnerMesh))
	hostname, _ := os.Hostname()
	name, err := mesh.LoadOrMakeName(p.store.For(statefile.OwnerMesh), hostname)
	if err != nil {
		return nil, err
	}
	if err := p.startMesh(name, vtep); err != nil {
		return nil, err
	}
	if p.dp, err = datapath.New(datapath.Config{Logger: log, DNSPort: set.DNSPort, GossipPort: set.GossipPort,
		VXLANPort: set.VXLANPort, VTEP: vtep, NSDir: netnsDir, WireGuardPort: set.WireGuardPort,
		EncryptedVXLANPort: set.EncryptedVXLANPort, WireGuardDevice: tunnel.DefaultDevice}); err != nil {
		return nil, fmt.Errorf("open netlink: %w", err)
	}
	p.vtep = vtep
	p.openTunnel()
	p.alloc, err = ipalloc.New(ipalloc.Config{Range: set.AllocRange.String(), DefaultSubnetBits: set.SubnetBits, Range6: set.AllocRange6.String(),
		SpaceTimeout: set.AllocWait, ReclaimAfter: set.AutoReclaim, Logger: log}, p.store.For(statefile.OwnerIPAlloc).DB(), p.mesh)
	if err != nil {
		return nil, err
	}
	p.newMetrics()
	p.table = dnsd.NewTable()
	p.dns, err = dnsd.New(dnsd.Config{Domain: set.DNSDomain, TTL: time.Duration(set.DNSTTL) * time.Second,
		Port: set.DNSPort, Upstreams: set.DNSUpstream, ResolvConf: set.ResolvConf, ServiceAddr: set.DNSAddr, ServiceAddr6: set.DNSAddr6,
		ClientRate: float64(set.DNSClientRate), ClientBurst: 2 * set.DNSClientRate,
		AnswerRate: float64(set.DNSAnswerRate), Observer: p.metrics}, p.table, log)
	if err != nil {
		return nil, err
	}
	deps := reconcile.Deps{Map: p.mesh, Kernel: p.metrics.Kernel(p.dp), DNSTable: p.table, DNSListeners: p.dns}
	deps.HostRoutes = p.dp
	cannot := ""
	if p.tun != nil {
		deps.Tunnel = p.tun
	} else {
		cannot = p.cannotEncrypt.Error()
	}
	p.engine = &engineWatch{forwardPath: ipForwardPath}
	if !set.DisableDockerAPI {
		dc, err := dockerapi.New(dockerapi.Config{Host: set.DockerHost})
		if err != nil {
			return nil, err
		}
		deps.Docker = dc
		p.engine.docker = dc
	}
	// The agent reads the driver's networks and endpoints, and the driver
	// tells the agent of changes: local lets the agent be built first.
	local := &driverState{}
	deps.Local = local
	p.agent = reconcile.New(reconcile.Config{VTEP: vtep, Logger: log, PluginName: set.PluginName,
		StaleState: p.staleState, NetNS: func(id string) string { return datapath.NamespacePath(netnsDir, id) },
		CannotEncrypt: cannot}, deps)
	p.driver, err = driver.New(driver.Config{MTU: set.MTU, VTEP: vtep, VXLANPort: set.VXLANPort, Logger: log,
		DNSAddr: set.DNSAddr, DNSAddr6: set.DNSAddr6, Sandboxes: datapath.Sandboxes{}, EncryptedVXLANPort: set.EncryptedVXLANPort,
		TunnelOverhead: tunnel.Overhead(vtep), EncryptDefault: set.EncryptDefault, CannotEncrypt: p.cannotEncrypt,
		EngineVersion: p.engine.Version, DirectDefault: set.DirectDefault},
		p.dp, p.store.For(statefile.OwnerDriver), p.agent)
	if err != nil {
		return nil, err
	}
	local.d = p.driver
	p.ipam = ipamdriver.New(ipamdriver.Config{Timeout: ipamdriver.TimeoutFor(set.AllocWait), Logger: log},
		p.metrics.Allocator(p.alloc))
	log.Info("weavego starting", "version", version, "peer", name, "advertise", vtep, "peers", set.Peers,
		"range", set.AllocRange, "security", p.sec.Mode)
	return p, nil
}

// serve restores the kernel state, then runs every loop and the plugin socket
// until ctx ends.
func (p *parts) serve(ctx context.Context) error {
	known, err := p.driver.Restore()
	if err != nil {
		p.log.Warn("restore networks", "err", err)
	}
	// What Docker removed while the plugin refused is removed now, before
	// the leftovers are collected and before Docker is served.
	newPendingStore(p.set.StateDir).replay(p.driver, p.ipam, p.log)
	p.collectGarbage(known)
	api, err := p.newControl().Open(p.sec.ControlSocket, p.set.ControlGroup, p.set.StatusGroup)
	if err != nil {
		return err
	}
	l, err := listenUnix(p.pluginSocket)
	if err != nil {
		for _, s := range api {
			s.Close()
		}
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	run := func(f func()) { wg.Add(1); go func() { defer wg.Done(); f() }() }
	// The mesh stops after the decision of stopMesh, not with ctx.
	meshCtx, meshCancel := context.WithCancel(context.Background())
	defer meshCancel()
	run(func() { _ = p.mesh.Run(meshCtx) })
	run(func() { p.agent.Run(ctx) })
	run(func() { _ = p.alloc.Run(ctx) })
	run(func() { _ = p.dns.Run(ctx) })
	run(func() { p.mesh.SaveLoop(ctx, p.store.For(statefile.OwnerMesh)) })
	run(func() { p.firewallLoop(ctx) })
	run(func() { p.engine.Run(ctx, p.log, 2*time.Second, time.Minute) })
	pluginSrv := &http.Server{Handler: p.metrics.Instrument(pluginapi.NewHandler(pluginapi.Config{Logger: p.log}, p.driver, p.ipam)),
		ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 2+len(api))
	run(func() { errc <- ignoreClosed(pluginSrv.Serve(l)) })
	run(func() {
		if err := p.serveMetrics(ctx); err != nil {
			errc <- err
		}
	})
	for _, s := range api {
		run(func() { errc <- s.Serve() })
	}
	p.log.Info("weavego ready", "socket", p.pluginSocket, "control", p.sec.ControlSocket)
	signalled, err := waitStop(ctx, errc)
	parkBy := time.Now().Add(parkWithin)
	cancel()
	p.stopMesh(meshCancel)
	shut, done := context.WithTimeout(context.Background(), 3*time.Second)
	defer done()
	_ = pluginSrv.Shutdown(shut)
	for _, s := range api {
		_ = s.Shutdown(shut)
	}
	wg.Wait()
	if signalled {
		p.park(parkBy)
	}
	p.mesh.SaveTo(p.store.For(statefile.OwnerMesh))
	p.removeFirewallIfIdle()
	p.removeTunnelIfIdle()
	return err
}

// waitStop waits for ctx to end (a signal: signalled) or for a server's
// error.
func waitStop(ctx context.Context, errc <-chan error) (signalled bool, err error) {
	select {
	case <-ctx.Done():
		return true, nil
	case err = <-errc:
		if err != nil {
			err = fmt.Errorf("serve: %w", err)
		}
		return false, err
	}
}

// parkWithin bounds, from the signal, how long a stopping plugin spends
// moving its networks into the host namespace: Docker sends SIGKILL 10
// seconds after SIGTERM, and the state file is still to be saved.
const parkWithin = 8 * time.Second

// stopMesh stops gossip. While weavego networks remain in the kernel (a
// restart, an upgrade, a disable with containers running) the plugin is
// expected back, so it stops without leaving and the other hosts keep
// forwarding to its containers meanwhile; otherwise it leaves.
func (p *parts) stopMesh(cancel context.CancelFunc) {
	if ids, err := p.dp.NetworkIDs(); err == nil && len(ids) > 0 {
		p.mesh.StayOnStop()
	}
	cancel()
}

var (
	_ control.StatusSource = (*parts)(nil)
	_ control.StatusSource = refusedStatus{}
)

// newControl wires the control API to the running parts.
func (p *parts) newControl() *control.Server {
	d := control.Deps{Status: p, Mesh: p.mesh, Saved: p.rpeers, Alloc: p.alloc,
		SaveRing: func(keys [][]byte) error {
			return keyring.SaveRing(filepath.Join(p.set.StateDir, keyring.RingFile), keys)
		},
		Metrics: p.metrics.Handler(p.log)}
	if p.tun != nil {
		d.RotateWireGuard = p.rotateWireGuard
	}
	if p.mesh.Encrypted() {
		d.Keys = keyring.HistoryRing{Ring: p.mesh, Hist: keyring.HistoryStore{Dir: p.set.StateDir}, Now: time.Now}
	}
	return control.New(control.Config{SettingPeers: mergePeers(p.set.Peers, nil), Logger: p.log}, d)
}

func (p *parts) close() {
	if p.dns != nil {
		_ = p.dns.Close()
	}
	if p.tun != nil {
		_ = p.tun.Close()
	}
	if p.mesh != nil {
		_ = p.mesh.Close()
	}
	if p.dp != nil {
		_ = p.dp.Close()
	}
	if p.store != nil {
		_ = p.store.Close()
	}
}

// driverState is the agent's view of the driver's state (reconcile.Local),
// bound to the driver once it is built, before the agent runs.
type driverState struct {
	d *driver.Driver
}

func (s *driverState) Networks() []driver.Network   { return s.d.Networks() }
func (s *driverState) Endpoints() []driver.Endpoint { return s.d.Endpoints() }

func listenUnix(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	_ = os.Remove(path) // a socket left by an earlier run
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	return l, nil
}

func ignoreClosed(err error) error {
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func oneLine(err error) error {
	msg := err.Error()
	out := make([]byte, 0, len(msg))
	for i := 0; i < len(msg); i++ {
		if msg[i] == '\n' {
			out = append(out, ';', ' ')
			continue
		}
		out = append(out, msg[i])
	}
	return errors.New(string(out))
}
