package reconcile

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/weavego/weavego/driver"
	"github.com/weavego/weavego/internal/record"
	"github.com/weavego/weavego/tunnel"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// Tunnel is the agent's view of this host's WireGuard device (package
// tunnel).
type Tunnel interface {
	PublicKey() wgtypes.Key
	Port() int
	SetPeers(peers []tunnel.Peer) error
	Status() (map[wgtypes.Key]tunnel.PeerStatus, error)
}

var _ Tunnel = (*tunnel.Tunnel)(nil)

// handshakeFresh is how old a WireGuard handshake may be for the path to
// count as up: WireGuard renews a session every two minutes while it is
// used (the device keeps every peer's session in use), and rejects one
// after three.
const handshakeFresh = 3 * time.Minute

// EncryptedPeer is, for `weavego status`, the encrypted path to one host that
// shares an encrypted network with this one.
type EncryptedPeer struct {
	Name, Addr string
	// PublicKey is the WireGuard public key the host publishes, which this
	// host's device accepts from it ("" while it publishes none usable).
	PublicKey string `json:",omitempty"`
	// Up: a WireGuard handshake with the peer is fresh, frames flow.
	Up            bool
	LastHandshake time.Time `json:",omitzero"`
	// Reason says why the path is not up; frames of encrypted networks to
	// the peer are dropped meanwhile, never sent in clear.
	Reason string `json:",omitempty"`
}

// wireGuardFields are what this host publishes in its HostNetRec records.
func (a *Agent) wireGuardFields() (key string, port int) {
	if a.tunnel == nil {
		return "", 0
	}
	return a.tunnel.PublicKey().String(), a.tunnel.Port()
}

// encryptedVNIs are the VNIs of this host's encrypted networks.
func encryptedVNIs(st localState) map[uint32]bool {
	out := map[uint32]bool{}
	for _, n := range st.networks {
		if n.VNI != 0 && driver.Encrypted(n.Options) {
			out[n.VNI] = true
		}
	}
	return out
}

// applyTunnel makes the WireGuard peers the live hosts that share an
// encrypted network with this one and publish a valid key, each allowed
// its own underlay address only; the others are listed with the reason.
func (a *Agent) applyTunnel(encrypted map[uint32]bool, addrs map[string]netip.Addr) error {
	me := a.rep.LocalName()
	byHost := map[string]*EncryptedPeer{}
	keys := map[string]tunnel.Peer{}
	for _, e := range a.rep.List(KindHostNet) {
		if e.Owner == me || !a.rep.Alive(e.Owner) {
			continue
		}
		rec, ok := record.Decode[HostNetRec](e.Value)
		if !ok || !encrypted[rec.VNI] || a.checkWriter(e.Owner, rec.VTEP, addrs) != nil {
			continue
		}
		p := byHost[e.Owner]
		if p == nil {
			p = &EncryptedPeer{Name: e.Owner, Addr: rec.VTEP.Unmap().String()}
			byHost[e.Owner] = p
		}
		k, err := wgtypes.ParseKey(rec.WGKey)
		switch {
		case p.Reason != "":
		case rec.WGKey == "" || err != nil:
			p.Reason = "it publishes no WireGuard key: it runs a weavego without encryption, or cannot encrypt " +
				"(see weavego status there)"
		case keys[e.Owner].PublicKey != (wgtypes.Key{}) && keys[e.Owner].PublicKey != k:
			p.Reason = "it publishes two different WireGuard keys"
		default:
			keys[e.Owner] = tunnel.Peer{Name: e.Owner, PublicKey: k, Addr: rec.VTEP.Unmap(), Port: rec.WGPort}
		}
	}
	owners := map[wgtypes.Key][]string{}
	for name, k := range keys {
		owners[k.PublicKey] = append(owners[k.PublicKey], name)
	}
	var peers []tunnel.Peer
	for name, pk := range keys {
		if others := owners[pk.PublicKey]; len(others) > 1 {
			slices.Sort(others)
			byHost[name].Reason = fmt.Sprintf("hosts %v publish the same WireGuard key", others)
			continue
		}
		if byHost[name].Reason == "" {
			peers = append(peers, pk)
		}
	}
	var err error
	if a.tunnel == nil {
		for _, p := range byHost {
			p.Reason = "this host cannot encrypt: " + a.cfg.CannotEncrypt
		}
	} else if err = a.tunnel.SetPeers(peers); err != nil {
		err = fmt.Errorf("WireGuard peers: %w", err)
	}
	a.mu.Lock()
	a.encPeers, a.wgPeers = byHost, keys
	a.mu.Unlock()
	return err
}

// encryptedStatus lists the encrypted paths to the hosts that share an
// encrypted network with this one, sorted by name.
func (a *Agent) encryptedStatus() []EncryptedPeer {
	a.mu.Lock()
	var out []EncryptedPeer
	keyOf := map[string]wgtypes.Key{}
	for name, p := range a.encPeers {
		out = append(out, *p)
		keyOf[name] = a.wgPeers[name].PublicKey
	}
	a.mu.Unlock()
	var st map[wgtypes.Key]tunnel.PeerStatus
	var stErr error
	if a.tunnel != nil && len(out) > 0 {
		st, stErr = a.tunnel.Status()
	}
	for i := range out {
		p := &out[i]
		if p.Reason != "" {
			continue
		}
		if stErr != nil {
			p.Reason = "cannot read the WireGuard device: " + stErr.Error()
			continue
		}
		p.PublicKey = keyOf[p.Name].String()
		ps, ok := st[keyOf[p.Name]]
		switch {
		case !ok:
			p.Reason = "not yet a peer of the WireGuard device"
		case ps.LastHandshake.IsZero():
			p.Reason = "no WireGuard handshake yet: is UDP port " + a.wgPortText() + " open between the hosts?"
		case time.Since(ps.LastHandshake) > handshakeFresh:
			p.LastHandshake = ps.LastHandshake
			p.Reason = fmt.Sprintf("last WireGuard handshake %s ago", time.Since(ps.LastHandshake).Round(time.Second))
		default:
			p.LastHandshake, p.Up = ps.LastHandshake, true
		}
	}
	slices.SortFunc(out, func(x, y EncryptedPeer) int {
		if x.Name < y.Name {
			return -1
		}
		if x.Name > y.Name {
			return 1
		}
		return 0
	})
	return out
}

func (a *Agent) wgPortText() string {
	if a.tunnel == nil {
		return "?"
	}
	return fmt.Sprint(a.tunnel.Port())
}

// WireGuardKeyChanged republishes this host's records at once after its
// WireGuard key pair was replaced, so that the other hosts take the new
// public key on their next pass.
func (a *Agent) WireGuardKeyChanged() { kick(a.kickKernel) }

// EncryptedPeers lists the encrypted paths, as Status does, for the
// metrics.
func (a *Agent) EncryptedPeers() []EncryptedPeer { return a.encryptedStatus() }
