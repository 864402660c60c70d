package tunnel

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.zx2c4.com/wireguard/wgctrl"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// Defaults of Config.
const (
	// DefaultDevice is the name of the WireGuard device in the host namespace.
	DefaultDevice = "weavego-wg"
	// DefaultPort is WireGuard's UDP port on the underlay.
	DefaultPort = 6784
	// DefaultVXLANPort is the UDP port of encrypted networks' VXLAN, which
	// only ever travels inside the tunnel.
	DefaultVXLANPort = 4790
	// RouteTable is the routing table of encrypted VXLAN; RulePriority the
	// priority of the rule that selects it.
	RouteTable   = 30567
	RulePriority = 30567
)

// Overhead is what WireGuard adds to a packet on an underlay of the
// address's family: outer IP header, UDP, WireGuard's header and tag.
func Overhead(underlay netip.Addr) int {
	if underlay.Is4() || underlay.Is4In6() {
		return 20 + 8 + 32
	}
	return 40 + 8 + 32
}

// Config configures a Tunnel. Zero fields take the defaults above.
type Config struct {
	Device    string
	Port      int
	VXLANPort int
	// StateDir holds the private key (KeyFile).
	StateDir string
	// UnderlayMTU is the MTU of the underlay link; the device gets it minus
	// Overhead. 0: 1500.
	UnderlayMTU int
	// Underlay is this host's underlay address (its family chooses Overhead).
	Underlay netip.Addr
	Logger   *slog.Logger
}

// Peer is another host the tunnel talks to.
type Peer struct {
	Name      string // the member's name, for status
	PublicKey wgtypes.Key
	// Addr is the member's underlay address: the tunnel's endpoint and the
	// only inner source address accepted from it.
	Addr netip.Addr
	Port int
}

// Tunnel is this host's WireGuard device. Its methods are safe for
// concurrent use.
type Tunnel struct {
	cfg  Config
	kind string // "kernel" or "userspace"
	log  *slog.Logger

	// mu guards key, client and user; the device itself has its own locks.
	mu     sync.Mutex
	key    wgtypes.Key
	client *wgctrl.Client
	user   *userDevice // nil for kernel WireGuard
}

// Open loads or makes the key pair, brings up the device (kernel WireGuard
// if the kernel has it, else wireguard-go over TUN) with no peers, and
// installs the routing that sends encrypted VXLAN into it.
func Open(cfg Config) (*Tunnel, error) {
	if cfg.Device == "" {
		cfg.Device = DefaultDevice
	}
	if cfg.Port == 0 {
		cfg.Port = DefaultPort
	}
	if cfg.VXLANPort == 0 {
		cfg.VXLANPort = DefaultVXLANPort
	}
	if cfg.UnderlayMTU == 0 {
		cfg.UnderlayMTU = 1500
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	key, err := LoadOrCreateKey(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	t := &Tunnel{cfg: cfg, key: key, log: cfg.Logger}
	if err := t.up(); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// up creates the device and configures it.
func (t *Tunnel) up() error {
	mtu := t.cfg.UnderlayMTU - Overhead(t.cfg.Underlay)
	kerr := addKernelDevice(t.cfg.Device, mtu)
	if kerr == nil {
		t.kind = "kernel"
	} else {
		u, err := openUserDevice(t.cfg.Device, mtu, t.log)
		if err != nil {
			return fmt.Errorf("kernel WireGuard is not available (%v) and wireguard-go "+
				"over TUN failed (%w): load the wireguard module, or give the plugin /dev/net/tun (a plugin "+
				"upgraded with docker plugin upgrade from a release before encryption keeps that release's "+
				"devices, without it: remove and install the plugin again)", kerr, err)
		}
		t.user, t.kind = u, "userspace"
	}
	c, err := wgctrl.New()
	if err != nil {
		return fmt.Errorf("open WireGuard control: %w", err)
	}
	t.client = c
	port := t.cfg.Port
	if err := c.ConfigureDevice(t.cfg.Device, wgtypes.Config{PrivateKey: &t.key, ListenPort: &port, ReplacePeers: true}); err != nil {
		return fmt.Errorf("configure WireGuard device %s: %w", t.cfg.Device, err)
	}
	link, err := netlink.LinkByName(t.cfg.Device)
	if err != nil {
		return fmt.Errorf("find WireGuard device %s: %w", t.cfg.Device, err)
	}
	if err := netlink.LinkSetMTU(link, mtu); err != nil {
		return fmt.Errorf("set MTU %d on %s: %w", mtu, t.cfg.Device, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("set %s up: %w", t.cfg.Device, err)
	}
	looseRPFilter(t.cfg.Device, t.log)
	if err := EnsureRouting(t.cfg.VXLANPort, link.Attrs().Index); err != nil {
		return err
	}
	t.log.Info("WireGuard device up", "device", t.cfg.Device, "kind", t.kind, "port", t.cfg.Port, "mtu", mtu,
		"public_key", t.key.PublicKey().String())
	return nil
}

// addKernelDevice creates (or finds) a kernel WireGuard device.
func addKernelDevice(name string, mtu int) error {
	if l, err := netlink.LinkByName(name); err == nil {
		if l.Type() == "wireguard" {
			return nil
		}
		// A device of another kind by our name (a TUN of an earlier run):
		// start afresh.
		_ = netlink.LinkDel(l)
	}
	return netlink.LinkAdd(&netlink.Wireguard{LinkAttrs: netlink.LinkAttrs{Name: name, MTU: mtu}})
}

// Kind says which WireGuard runs the device: "kernel" or "userspace".
func (t *Tunnel) Kind() string { return t.kind }

// PublicKey is this host's public key, as published to the other hosts.
func (t *Tunnel) PublicKey() wgtypes.Key {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.key.PublicKey()
}

// Port is WireGuard's UDP port.
func (t *Tunnel) Port() int { return t.cfg.Port }

// Close stops a userspace device (the TUN device goes with it) and closes
// the control client. A kernel device stays, with its peers, so that
// encrypted traffic flows while the plugin restarts; RemoveAll removes it.
func (t *Tunnel) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var errs []error
	if t.client != nil {
		errs = append(errs, t.client.Close())
		t.client = nil
	}
	if t.user != nil {
		t.user.close()
		t.user = nil
	}
	return errors.Join(errs...)
}

func udpAddr(a netip.Addr, port int) *net.UDPAddr {
	return net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, uint16(port)))
}
