package main

import (
	"slices"

	"github.com/weavego/weavego/plugin/status"
	"github.com/weavego/weavego/reconcile"
	"github.com/weavego/weavego/tunnel"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// openTunnel brings up this host's WireGuard device for encrypted networks.
// A host that cannot (no WireGuard module and no TUN device) runs on: its
// plain networks work, encrypted ones are refused with the reason, and the
// routing that sends encrypted VXLAN only into the tunnel is installed
// anyway, so that nothing of such a network could leave in clear.
func (p *parts) openTunnel() {
	mtu, err := p.dp.UnderlayMTU()
	if err != nil {
		p.log.Warn("underlay MTU for the WireGuard device", "err", err)
	}
	p.tun, err = tunnel.Open(tunnel.Config{Port: p.set.WireGuardPort, VXLANPort: p.set.EncryptedVXLANPort,
		StateDir: p.set.StateDir, UnderlayMTU: mtu, Underlay: p.vtep, Logger: p.log})
	if err == nil {
		return
	}
	p.cannotEncrypt = err
	p.log.Warn("encrypted networks are not available on this host", "err", err)
	if err := tunnel.EnsureRouting(p.set.EncryptedVXLANPort, 0); err != nil {
		p.log.Warn("routing of encrypted networks", "err", err)
	}
}

// removeTunnelIfIdle removes the WireGuard device and its routing when the
// plugin stops with no weavego network left, as removeFirewallIfIdle does
// the firewall. While networks remain, the routing stays, so that their
// encrypted VXLAN is dropped rather than sent in clear while no plugin runs.
func (p *parts) removeTunnelIfIdle() {
	if ids, err := p.dp.NetworkIDs(); err != nil || len(ids) > 0 {
		return
	}
	if p.tun != nil {
		_ = p.tun.Close()
	}
	if err := tunnel.RemoveAll(""); err != nil {
		p.log.Warn("remove the WireGuard device and its routing", "err", err)
	}
}

func (p *parts) encryptionStatus(cluster reconcile.Status) status.Encryption {
	s := status.Encryption{Peers: cluster.Encrypted}
	if p.tun != nil {
		s.Device, s.PublicKey, s.Port = p.tun.Kind(), p.tun.PublicKey().String(), p.tun.Port()
		if peers, err := p.tun.Status(); err == nil {
			for k := range peers {
				s.DevicePeers = append(s.DevicePeers, k.String())
			}
			slices.Sort(s.DevicePeers)
		}
	} else if p.cannotEncrypt != nil {
		s.Unavailable = p.cannotEncrypt.Error()
	}
	for _, n := range cluster.Networks {
		if n.Encrypted {
			s.Networks = append(s.Networks, n.Name)
		}
	}
	return s
}

// rotateWireGuard replaces this host's WireGuard key pair and has the agent
// republish the new public key at once.
func (p *parts) rotateWireGuard() (old, cur string, err error) {
	o, c, err := p.tun.Rotate()
	if c != (wgtypes.Key{}) {
		p.agent.WireGuardKeyChanged()
	}
	if err != nil {
		return "", "", err
	}
	return o.String(), c.String(), nil
}
