package reconcile

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/weavego/weavego/datapath"
	"github.com/weavego/weavego/driver"
	"github.com/weavego/weavego/internal/netrules"
	"github.com/weavego/weavego/internal/record"
	"github.com/weavego/weavego/mesh"
)

// reconcileKernel publishes this host's endpoints and networks, then makes the
// FDB and neighbour entries of every local network match the endpoints of the
// other hosts that are alive.
func (a *Agent) reconcileKernel() error {
	st := a.snapshot()
	wantEP := map[string][]byte{}
	for _, ep := range st.endpoints {
		n, ok := st.networks[ep.NetworkID]
		if !ok || n.VNI == 0 {
			continue
		}
		wantEP[ep.ID] = record.Encode(EndpointRec{VNI: n.VNI, IP: ep.Addr.Addr(), IP6: ep.Addr6.Addr(), MAC: ep.MAC, VTEP: a.cfg.VTEP})
	}
	wantHost := map[string][]byte{}
	wgKey, wgPort := a.wireGuardFields()
	local := map[uint32]string{} // VNI -> local network ID
	subnets := map[uint32]familySubnets{}
	for id, n := range st.networks {
		if n.VNI == 0 {
			continue
		}
		local[n.VNI], subnets[n.VNI] = id, familySubnets{v4: n.Subnet, v6: n.Subnet6}
		rec := HostNetRec{VNI: n.VNI, VTEP: a.cfg.VTEP, WGKey: wgKey, WGPort: wgPort}
		if driver.Direct(n.Options) {
			if mac := a.kernel.DirectMAC(id); mac != nil {
				rec.DirectMAC = mac.String()
			}
		}
		wantHost[hostNetKey(n.VNI, a.rep.LocalName())] = record.Encode(rec)
	}

	a.publishOwn(KindEndpoint, wantEP)
	a.publishOwn(KindHostNet, wantHost)
	if a.holdRemotes() {
		return nil
	}
	// The allowlist first: a peer is alive here before its entries reach
	// the FDB, so its VXLAN packets are accepted once they are expected.
	peersErr := a.kernel.SetVXLANPeers(a.memberAddrs())
	if peersErr != nil {
		peersErr = fmt.Errorf("VXLAN allowlist: %w", peersErr)
	}
	tunnelErr := a.applyTunnel(encryptedVNIs(st), a.peerAddrs())
	return errors.Join(peersErr, tunnelErr, a.applyRemotes(local, subnets))
}

// memberAddrs returns the underlay addresses of the live (alive or suspect)
// members, this host included.
func (a *Agent) memberAddrs() []netip.Addr {
	var out []netip.Addr
	for _, p := range a.rep.Peers() {
		if p.State != mesh.StateAlive && p.State != mesh.StateSuspect {
			continue
		}
		if p.Addr.IsValid() {
			out = append(out, p.Addr)
		}
	}
	return out
}

// publishOwn makes this host's entries of kind equal want: it sets what is
// missing or different and deletes what it owns but no longer has.
func (a *Agent) publishOwn(kind string, want map[string][]byte) {
	me := a.rep.LocalName()
	have := map[string]bool{}
	for _, e := range a.rep.List(kind) {
		if e.Owner != me {
			continue
		}
		have[e.Key] = true
		if _, ok := want[e.Key]; !ok {
			a.rep.Delete(kind, e.Key)
		}
	}
	for key, val := range want {
		if e, ok := a.rep.Get(kind, key); ok && !e.Deleted && e.Owner == me && bytes.Equal(e.Value, val) {
			continue
		}
		a.rep.Set(kind, key, val)
	}
}

// applyRemotes computes, per local network, the remote endpoints and the
// hosts to flood to, from the entries of live peers, and hands them to the kernel.
func (a *Agent) applyRemotes(local map[uint32]string, subnets map[uint32]familySubnets) error {
	me := a.rep.LocalName()
	addrs := a.peerAddrs()
	flood, direct := a.hostNets(local, addrs)
	remotes := map[uint32][]datapath.Remote{}
	for _, e := range a.rep.List(KindEndpoint) {
		if e.Owner == me || !a.rep.Alive(e.Owner) {
			continue
		}
		rec, ok := record.Decode[EndpointRec](e.Value)
		if !ok || local[rec.VNI] == "" {
			continue
		}
		mac, err := netrules.ParseMAC(rec.MAC)
		if err == nil {
			err = a.checkWriter(e.Owner, rec.VTEP, addrs)
		}
		sn := subnets[rec.VNI]
		if err == nil {
			err = sn.checkRemote(rec)
		}
		if err != nil {
			a.warnOnce("ep/"+e.Key, "skipping a remote endpoint", "endpoint", e.Key, "owner", e.Owner, "err", err)
			continue
		}
		if rec.IP.IsValid() {
			remotes[rec.VNI] = append(remotes[rec.VNI], datapath.Remote{IP: rec.IP, MAC: mac, VTEP: rec.VTEP,
				DirectMAC: direct[hostVNI{e.Owner, rec.VNI}]})
		}
		if r6, ok := a.remote6(e, rec, mac, sn.v6); ok {
			remotes[rec.VNI] = append(remotes[rec.VNI], r6)
		}
	}
	var errs []error
	for vni, id := range local {
		if err := a.kernel.SetRemotes(id, remotes[vni], flood[vni]); err != nil {
			errs = append(errs, fmt.Errorf("network %s (vni %d): %w", driver.ShortID(id), vni, err))
		}
	}
	return errors.Join(errs...)
}

// hostVNI names one host's record of one network.
type hostVNI struct {
	host string
	vni  uint32
}

// hostNets reads the hostnet records of live peers for the local networks:
// the VTEPs to flood to, per VNI, and the direct MACs the hosts published.
func (a *Agent) hostNets(local map[uint32]string, addrs map[string]netip.Addr) (map[uint32][]netip.Addr,
	map[hostVNI]net.HardwareAddr) {
	me := a.rep.LocalName()
	flood := map[uint32][]netip.Addr{}
	direct := map[hostVNI]net.HardwareAddr{}
	for _, e := range a.rep.List(KindHostNet) {
		if e.Owner == me || !a.rep.Alive(e.Owner) || strings.HasSuffix(e.Key, "/"+me) {
			continue
		}
		rec, ok := record.Decode[HostNetRec](e.Value)
		if !ok || local[rec.VNI] == "" || rec.VTEP == a.cfg.VTEP {
			continue
		}
		if err := a.checkWriter(e.Owner, rec.VTEP, addrs); err != nil {
			a.warnOnce("hostnet/"+e.Key, "not flooding to a host", "key", e.Key, "owner", e.Owner, "err", err)
			continue
		}
		flood[rec.VNI] = append(flood[rec.VNI], rec.VTEP)
		if mac, err := net.ParseMAC(rec.DirectMAC); err == nil && rec.DirectMAC != "" {
			direct[hostVNI{e.Owner, rec.VNI}] = mac
		}
	}
	return flood, direct
}

// familySubnets are a local network's subnets: IPv4 and, on a --ipv6
// network, IPv6.
type familySubnets struct{ v4, v6 netip.Prefix }

// ipv6Only tells whether the network has no IPv4 here (--ipv4=false).
func (f familySubnets) ipv6Only() bool { return !f.v4.IsValid() && f.v6.IsValid() }

// checkRemote checks the address a remote endpoint has on the network for
// its neighbour entries: its IPv4 address inside the IPv4 subnet, or, on a
// network that is IPv6-only here, no IPv4 address and its IPv6 address
// inside the IPv6 subnet. (The IPv6 address of a dual-stack endpoint is
// checked on its own, by remote6.)
func (f familySubnets) checkRemote(rec EndpointRec) error {
	switch {
	case f.ipv6Only() && rec.IP.IsValid():
		return fmt.Errorf("IPv4 address %s on a network that is IPv6-only here", rec.IP)
	case f.ipv6Only():
		return netrules.CheckInside6(f.v6, rec.IP6)
	case !rec.IP.IsValid():
		return errors.New("no IPv4 address on a network with IPv4 here")
	case f.v4.IsValid():
		return netrules.CheckInside(f.v4, rec.IP)
	}
	return nil
}

// remote6 is the IPv6 neighbour entry of a remote endpoint (its FDB entry
// is the IPv4 one's: one MAC): only when the record has an IPv6 address
// inside the local network's IPv6 subnet. An address outside it, or on a
// network that is IPv4-only here, is skipped with a warning; the IPv4 entry
// stays.
func (a *Agent) remote6(e mesh.Entry, rec EndpointRec, mac net.HardwareAddr, subnet6 netip.Prefix) (datapath.Remote, bool) {
	if !rec.IP6.IsValid() {
		return datapath.Remote{}, false
	}
	err := errors.New("this host's network has no IPv6")
	if subnet6.IsValid() {
		err = netrules.CheckInside6(subnet6, rec.IP6)
	}
	if err != nil {
		a.warnOnce("ep6/"+e.Key, "skipping the IPv6 address of a remote endpoint", "endpoint", e.Key, "owner", e.Owner,
			"ip6", rec.IP6, "err", err)
		return datapath.Remote{}, false
	}
	return datapath.Remote{IP: rec.IP6, MAC: mac, VTEP: rec.VTEP}, true
}
