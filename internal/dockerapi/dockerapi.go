// Package dockerapi is weavego's narrow view of the Docker Engine API, over
// the `docker-api` mount: the names and definitions of networks, the names of
// containers, network create and remove, and the event stream. Callers use it
// from background loops only, never inside a driver callback: the daemon waits
// for the plugin while it serves a callback, so a call back into the daemon can
// deadlock it.
package dockerapi

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/versions"
	"github.com/docker/docker/client"
)

// Network is what weavego needs of a Docker network.
type Network struct {
	ID, Name, Driver string
	Subnet, IPRange  netip.Prefix
	Gateway          netip.Addr
	// Subnet6, IPRange6 and Gateway6 are the IPv6 pool of a --ipv6
	// network; a valid Subnet6 creates the network with --ipv6.
	Subnet6, IPRange6 netip.Prefix
	Gateway6          netip.Addr
	Options           map[string]string
	Internal          bool
	IPAMDriver        string
	Containers        map[string]Attachment // by container ID
}

// Attachment is a container on a network.
type Attachment struct {
	// EndpointID is Docker's ID of this attachment: a disconnect and
	// connect gives a new one.
	EndpointID string
	Name       string
	IP         netip.Addr
	IP6        netip.Addr // on a --ipv6 network
}

// Container is what weavego needs of a container: its name and, per network
// ID, its aliases and address there.
type Container struct {
	ID, Name string
	Running  bool
	Networks map[string]ContainerNet
}

// ContainerNet is one network attachment of a container.
type ContainerNet struct {
	NetworkID string
	Aliases   []string
	IP        netip.Addr
}

// Client talks to one Docker engine. Its methods may be called concurrently.
type Client struct {
	c *client.Client
	// mu guards negotiated and serialises the version negotiation.
	mu sync.Mutex
	// negotiated is set once the API version has been agreed with the engine. The engine's client library
	// negotiates lazily on the first request, writing its version while a concurrent request (its event
	// stream) reads it, so every method negotiates first, under mu.
	negotiated bool
}

// DefaultHost is the engine's socket where the plugin mounts it.
const DefaultHost = "unix:///var/run/docker.sock"

// Config configures a Client.
type Config struct {
	// Host is the engine's address (unix:// or tcp://); default DefaultHost.
	Host string
}

// New returns a client; it connects lazily and negotiates the API version
// with the engine before its first request.
func New(cfg Config) (*Client, error) {
	if cfg.Host == "" {
		cfg.Host = DefaultHost
	}
	c, err := client.NewClientWithOpts(client.WithHost(cfg.Host), client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker client for %s: %w", cfg.Host, err)
	}
	return &Client{c: c}, nil
}

// Close releases the client.
func (c *Client) Close() error { return c.c.Close() }

// Ping checks that the engine answers.
func (c *Client) Ping(ctx context.Context) error {
	if err := c.negotiate(ctx); err != nil {
		return err
	}
	if _, err := c.c.Ping(ctx); err != nil {
		return fmt.Errorf("reach the Docker engine: %w", err)
	}
	return nil
}

// negotiate agrees on the API version with the engine, once: after it no request of the engine's client
// writes the version, and requests read it safely from any goroutine.
func (c *Client) negotiate(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.negotiated {
		return nil
	}
	ping, err := c.c.Ping(ctx)
	if err != nil {
		return fmt.Errorf("reach the Docker engine: %w", err)
	}
	c.c.NegotiateAPIVersionPing(ping)
	c.negotiated = true
	return nil
}

// Networks lists the networks whose driver is one of drivers (all when none).
func (c *Client) Networks(ctx context.Context, drivers ...string) ([]Network, error) {
	if err := c.negotiate(ctx); err != nil {
		return nil, err
	}
	list, err := c.c.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	var out []Network
	for _, s := range list {
		if len(drivers) > 0 && !contains(drivers, s.Driver) {
			continue
		}
		full, err := c.c.NetworkInspect(ctx, s.ID, network.InspectOptions{})
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, fromInspect(full))
	}
	return out, nil
}

// Network inspects one network by ID or name.
func (c *Client) Network(ctx context.Context, idOrName string) (Network, error) {
	if err := c.negotiate(ctx); err != nil {
		return Network{}, err
	}
	n, err := c.c.NetworkInspect(ctx, idOrName, network.InspectOptions{})
	if err != nil {
		return Network{}, fmt.Errorf("inspect network %s: %w", idOrName, err)
	}
	return fromInspect(n), nil
}

// ErrNoIPv6Only: the engine is older than Docker 28 and cannot create an
// IPv6-only network.
var ErrNoIPv6Only = errors.New("the network is IPv6-only (--ipv4=false), which this engine cannot make: " +
	"upgrade Docker to 28 or later on this host")

// minIPv6OnlyAPI is the first API version with EnableIPv4 (Docker 28).
const minIPv6OnlyAPI = "1.48"

// CreateNetwork creates a network with the given definition.
func (c *Client) CreateNetwork(ctx context.Context, n Network) (string, error) {
	if err := c.negotiate(ctx); err != nil {
		return "", err
	}
	var cfgs []network.IPAMConfig
	var ipv4, ipv6 *bool
	if n.Subnet.IsValid() {
		cfgs = append(cfgs, ipamConfig(n.Subnet, n.IPRange, n.Gateway))
	} else {
		// An IPv6-only network (--ipv4=false): an engine older than API
		// 1.47 (Docker 28) would drop the field and make it dual-stack.
		if v := c.c.ClientVersion(); versions.LessThan(v, minIPv6OnlyAPI) {
			return "", fmt.Errorf("create network %s: %w (its API is %s)", n.Name, ErrNoIPv6Only, v)
		}
		ipv4 = new(bool)
	}
	if n.Subnet6.IsValid() {
		cfgs = append(cfgs, ipamConfig(n.Subnet6, n.IPRange6, n.Gateway6))
		on := true
		ipv6 = &on
	}
	resp, err := c.c.NetworkCreate(ctx, n.Name, network.CreateOptions{
		Driver:     n.Driver,
		Internal:   n.Internal,
		EnableIPv4: ipv4,
		EnableIPv6: ipv6,
		Options:    n.Options,
		IPAM:       &network.IPAM{Driver: n.IPAMDriver, Config: cfgs},
	})
	if err != nil {
		return "", fmt.Errorf("create network %s: %w", n.Name, err)
	}
	return resp.ID, nil
}

// RemoveNetwork removes a network by ID or name.
func (c *Client) RemoveNetwork(ctx context.Context, idOrName string) error {
	if err := c.negotiate(ctx); err != nil {
		return err
	}
	if err := c.c.NetworkRemove(ctx, idOrName); err != nil {
		return fmt.Errorf("remove network %s: %w", idOrName, err)
	}
	return nil
}

// Container inspects a container.
func (c *Client) Container(ctx context.Context, id string) (Container, error) {
	if err := c.negotiate(ctx); err != nil {
		return Container{}, err
	}
	ci, err := c.c.ContainerInspect(ctx, id)
	if err != nil {
		return Container{}, fmt.Errorf("inspect container %s: %w", id, err)
	}
	out := Container{ID: ci.ID, Name: strings.TrimPrefix(ci.Name, "/"), Networks: map[string]ContainerNet{}}
	if ci.State != nil {
		out.Running = ci.State.Running
	}
	if ci.NetworkSettings != nil {
		for _, es := range ci.NetworkSettings.Networks {
			if es == nil {
				continue
			}
			ip, _ := netip.ParseAddr(es.IPAddress)
			out.Networks[es.NetworkID] = ContainerNet{NetworkID: es.NetworkID, Aliases: es.Aliases, IP: ip}
		}
	}
	return out, nil
}

// Events streams network and container events until ctx ends. An engine that cannot be reached gives a
// single error and no events.
func (c *Client) Events(ctx context.Context) (<-chan events.Message, <-chan error) {
	if err := c.negotiate(ctx); err != nil {
		errs := make(chan error, 1)
		errs <- err
		return nil, errs
	}
	f := filters.NewArgs(filters.Arg("type", "network"), filters.Arg("type", "container"))
	return c.c.Events(ctx, events.ListOptions{Filters: f})
}

// PluginName finds the full name (e.g. weavego:latest) of the enabled plugin
// serving socket, so that networks created on other hosts' behalf name it.
func (c *Client) PluginName(ctx context.Context, socket string) (string, error) {
	if err := c.negotiate(ctx); err != nil {
		return "", err
	}
	list, err := c.c.PluginList(ctx, filters.NewArgs())
	if err != nil {
		return "", fmt.Errorf("list plugins: %w", err)
	}
	for _, p := range list {
		if p != nil && p.Enabled && p.Config.Interface.Socket == socket {
			return p.Name, nil
		}
	}
	return "", fmt.Errorf("no enabled plugin serves %s", socket)
}

// ipamConfig is one pool of a network to create.
func ipamConfig(subnet, ipRange netip.Prefix, gw netip.Addr) network.IPAMConfig {
	cfg := network.IPAMConfig{Subnet: subnet.String()}
	if gw.IsValid() {
		cfg.Gateway = gw.String()
	}
	if ipRange.IsValid() {
		cfg.IPRange = ipRange.String()
	}
	return cfg
}

func fromInspect(n network.Inspect) Network {
	out := Network{ID: n.ID, Name: n.Name, Driver: n.Driver, Options: n.Options, Internal: n.Internal,
		IPAMDriver: n.IPAM.Driver, Containers: map[string]Attachment{}}
	for _, cfg := range n.IPAM.Config {
		subnet, _ := netip.ParsePrefix(cfg.Subnet)
		ipRange, _ := netip.ParsePrefix(cfg.IPRange)
		gw, _ := netip.ParseAddr(cfg.Gateway)
		switch {
		case subnet.Addr().Is4() && !out.Subnet.IsValid():
			out.Subnet, out.IPRange, out.Gateway = subnet, ipRange, gw
		case subnet.Addr().Is6() && !out.Subnet6.IsValid():
			out.Subnet6, out.IPRange6, out.Gateway6 = subnet, ipRange, gw
		}
	}
	for id, ep := range n.Containers {
		p, _ := netip.ParsePrefix(ep.IPv4Address)
		p6, _ := netip.ParsePrefix(ep.IPv6Address)
		out.Containers[id] = Attachment{EndpointID: ep.EndpointID, Name: ep.Name, IP: p.Addr(), IP6: p6.Addr()}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Engine is what weavego reports of the engine it serves.
type Engine struct {
	// Version is the engine's version (29.8.1).
	Version string
	// FirewallBackend is the engine's firewall backend, "iptables" or
	// "nftables" (engines of API 1.49 and later report it); "" from older
	// engines, which have iptables only.
	FirewallBackend string
}

// Engine reads the engine's version and firewall backend (GET /info).
func (c *Client) Engine(ctx context.Context) (Engine, error) {
	if err := c.negotiate(ctx); err != nil {
		return Engine{}, err
	}
	info, err := c.c.Info(ctx)
	if err != nil {
		return Engine{}, fmt.Errorf("read the Docker engine's info: %w", err)
	}
	e := Engine{Version: info.ServerVersion}
	if info.FirewallBackend != nil {
		e.FirewallBackend = info.FirewallBackend.Driver
	}
	return e, nil
}
