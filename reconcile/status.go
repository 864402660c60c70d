package reconcile

import (
	"net/netip"
	"sort"
	"strconv"
	"time"

	"github.com/weavego/weavego/driver"
	"github.com/weavego/weavego/internal/record"
)

// Status is what `weavego status` shows of the cluster.
type Status struct {
	Self     string
	VTEP     string
	Peers    []PeerStatus
	Networks []NetworkStatus
	// Encrypted lists the encrypted paths to the hosts that share an
	// encrypted network with this one.
	Encrypted []EncryptedPeer `json:",omitempty"`
}

// PeerStatus is one member of the mesh.
type PeerStatus struct {
	Name, Addr, State string
	Local             bool
	Endpoints         int
	// Since is when the peer became suspect, dead or left.
	Since time.Time `json:",omitzero"`
}

// NetworkStatus is one cluster network.
type NetworkStatus struct {
	Name, Subnet, Gateway, Origin string
	VNI                           uint32
	Hosts                         []string
	Endpoints                     int
	DNSFlag                       string
	// Refused says why this host refuses to create the network, if it does.
	Refused string `json:",omitempty"`
	// Kept says why a removal of the network on this host did not remove
	// it from the cluster (in use on other hosts), if it did not.
	Kept string `json:",omitempty"`
	// UnknownOptions says, for a network created with -o options weavego
	// does not know (before it refused them), that they have no effect, and
	// UnknownOptionsFix how to re-create the network without them.
	UnknownOptions    string `json:",omitempty"`
	UnknownOptionsFix string `json:",omitempty"`
	// Encrypted: the network's traffic between hosts is encrypted.
	Encrypted bool `json:",omitempty"`
	// Direct: the network was created with -o direct; DirectMAC is the
	// MAC of its macvlan on this host ("": none, VXLAN only here); Paths
	// says, per peer host with containers on it, which path its unicast
	// takes from this host.
	Direct    bool         `json:",omitempty"`
	DirectMAC string       `json:",omitempty"`
	Paths     []DirectPath `json:",omitempty"`
}

// DirectPath is the path of a direct network's unicast to one peer host.
type DirectPath struct {
	Host, Addr string
	// Path is "direct", or "vxlan: " and why.
	Path string
}

// Status reports peers and networks as this host sees them.
func (a *Agent) Status() Status {
	st := Status{Self: a.rep.LocalName(), VTEP: a.cfg.VTEP.String(), Encrypted: a.encryptedStatus()}
	perPeer := map[string]int{}
	perVNI := map[uint32]int{}
	for _, e := range a.rep.List(KindEndpoint) {
		perPeer[e.Owner]++
		if rec, ok := record.Decode[EndpointRec](e.Value); ok {
			perVNI[rec.VNI]++
		}
	}
	for _, p := range a.rep.Peers() {
		addr := ""
		if p.Addr.IsValid() {
			addr = p.Addr.String()
		}
		st.Peers = append(st.Peers, PeerStatus{Name: p.Name, Addr: addr, State: p.State, Local: p.Local, Endpoints: perPeer[p.Name],
			Since: p.Since})
	}
	hosts := map[uint32][]string{}
	for _, e := range a.rep.List(KindHostNet) {
		parts, ok := record.Split(record.SepPlain, e.Key, 2)
		if !ok {
			continue
		}
		host := parts[1]
		if v, err := strconv.ParseUint(parts[0], 10, 32); err == nil {
			state := ""
			if !a.rep.Alive(host) {
				state = " (down)"
			}
			hosts[uint32(v)] = append(hosts[uint32(v)], host+state)
		}
	}
	for _, e := range a.netDefs() {
		def, ok := record.Decode[NetDef](e.Value)
		if !ok {
			continue
		}
		ns := NetworkStatus{Name: def.Name, Subnet: def.key().String(), Origin: def.Origin, VNI: def.VNI,
			Hosts: hosts[def.VNI], Endpoints: perVNI[def.VNI], Encrypted: driver.Encrypted(def.Options)}
		if unknown := driver.UnknownOptions(def.Options); len(unknown) > 0 {
			ns.UnknownOptions, ns.UnknownOptionsFix = driver.UnknownOptionsNote(def.Name, unknown)
		}
		if gw := def.Gateway; gw.IsValid() || !def.Subnet.IsValid() && def.Gateway6.IsValid() {
			if !gw.IsValid() {
				gw = def.Gateway6 // an IPv6-only network: dnsd answers there
			}
			ns.Gateway = gw.String()
			ns.DNSFlag = "--dns " + ns.Gateway
		}
		if ns.Direct = driver.Direct(def.Options); ns.Direct {
			ns.DirectMAC, ns.Paths = a.directPaths(def.VNI)
		}
		a.mu.Lock()
		ns.Refused = a.refused[def.Name]
		ns.Kept = a.kept[def.Name]
		a.mu.Unlock()
		sort.Strings(ns.Hosts)
		st.Networks = append(st.Networks, ns)
	}
	return st
}

// directPaths returns, for the local network of VNI vni, the MAC of its
// macvlan here and the path to each peer host the datapath chose, sorted
// by host.
func (a *Agent) directPaths(vni uint32) (string, []DirectPath) {
	var paths map[netip.Addr]string
	mac := ""
	for id, n := range a.snapshot().networks {
		if n.VNI == vni {
			paths = a.kernel.DirectPaths(id)
			if m := a.kernel.DirectMAC(id); m != nil {
				mac = m.String()
			}
		}
	}
	names := map[netip.Addr]string{}
	for _, p := range a.rep.Peers() {
		names[p.Addr] = p.Name
	}
	var out []DirectPath
	for vtep, path := range paths {
		out = append(out, DirectPath{Host: names[vtep], Addr: vtep.String(), Path: path})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Host+out[i].Addr < out[j].Host+out[j].Addr })
	return mac, out
}
