package reconcile

import (
	"context"
	"net/netip"
	"sort"

	"github.com/weavego/weavego/dnsd"
	"github.com/weavego/weavego/internal/dockerapi"
	"github.com/weavego/weavego/internal/netrules"
	"github.com/weavego/weavego/internal/record"
)

// DNSTable is the agent's view of the DNS server's names.
type DNSTable interface {
	Replace(records []dnsd.Record, members []dnsd.Member) error
}

// DNSListeners is the agent's view of the DNS server's networks and sockets.
type DNSListeners interface {
	SetNetworks(nets []dnsd.Served) error
}

// syncNames publishes the names of the containers attached here to weavego
// networks, then gives the DNS server every live name of the cluster and the
// gateway addresses (IPv4 and IPv6) to listen on.
func (a *Agent) syncNames(ctx context.Context, local []dockerapi.Network) {
	want := map[string][]byte{}
	nets := a.snapshot().networks
	aliases := a.aliases.pass()
	for _, n := range local {
		rec, ok := nets[n.ID]
		if !ok {
			continue
		}
		for cid, att := range n.Containers {
			names := appendUnique([]string{att.Name}, aliases.aliases(ctx, a.docker, cid, n.ID, att)...)
			if names = usableNames(names); len(names) == 0 {
				continue
			}
			nr := NameRec{Names: names, IP: att.IP, VNI: rec.VNI, Network: n.Name}
			if rec.Subnet6.IsValid() && rec.Subnet6.Contains(att.IP6) {
				nr.IP6 = att.IP6
			}
			if !nr.IP.IsValid() && !nr.IP6.IsValid() {
				continue
			}
			want[nameKey(cid, rec.VNI)] = record.Encode(nr)
		}
	}
	aliases.done()
	a.publishOwn(KindName, want)
	a.feedDNS()
}

// feedDNS hands the DNS server the names of live hosts, the local
// containers' sandboxes and the local networks it serves.
func (a *Agent) feedDNS() {
	if a.table == nil {
		return
	}
	// Both loops feed the DNS server; one at a time, so that an older
	// snapshot is never installed after a newer one.
	a.dnsMu.Lock()
	defer a.dnsMu.Unlock()
	var records []dnsd.Record
	for _, e := range a.rep.List(KindName) {
		if !a.rep.Alive(e.Owner) {
			continue
		}
		rec, ok := record.Decode[NameRec](e.Value)
		if !ok {
			continue
		}
		parts, ok := record.Split(record.SepPlain, e.Key, 2)
		if !ok {
			continue
		}
		cid := parts[0]
		for _, name := range rec.Names {
			for _, ip := range []netip.Addr{rec.IP, rec.IP6} { // IPv6-only networks: no IP
				if ip.IsValid() {
					records = append(records, dnsd.Record{Name: name, IP: ip, Network: rec.Network,
						VNI: rec.VNI, Container: cid})
				}
			}
		}
	}
	members, served := a.localDNS()
	if err := a.table.Replace(records, members); err != nil {
		a.log.Warn("DNS names", "err", err)
	}
	if a.listen == nil {
		return
	}
	if err := a.listen.SetNetworks(served); err != nil {
		a.log.Warn("DNS listeners", "err", err)
	}
}

// localDNS returns the sandboxes of the local endpoints as DNS members (so
// that a container is known to dnsd from its Join on, before its names are
// published) and the local networks, sorted by subnet.
func (a *Agent) localDNS() ([]dnsd.Member, []dnsd.Served) {
	st := a.snapshot()
	a.mu.Lock()
	defer a.mu.Unlock()
	var members []dnsd.Member
	for _, ep := range st.endpoints {
		n, ok := st.networks[ep.NetworkID]
		if !ok || !ep.Joined || ep.SandboxKey == "" {
			continue
		}
		for _, p := range []netip.Prefix{ep.Addr, ep.Addr6} {
			if p.IsValid() {
				members = append(members, dnsd.Member{Owner: "sandbox " + ep.SandboxKey, VNI: n.VNI, IP: p.Addr()})
			}
		}
	}
	served := make([]dnsd.Served, 0, len(st.networks))
	for id, n := range st.networks {
		if n.Subnet.IsValid() || n.Subnet6.IsValid() {
			sv := dnsd.Served{Network: a.names[id], VNI: n.VNI, Subnet: n.Subnet, Gateway: n.Gateway,
				Subnet6: n.Subnet6, Gateway6: n.Gateway6, Internal: n.Internal}
			if a.cfg.NetNS != nil {
				sv.NetNS = a.cfg.NetNS(id)
			}
			served = append(served, sv)
		}
	}
	key := func(s dnsd.Served) string { return s.Subnet.String() + " " + s.Subnet6.String() }
	sort.Slice(served, func(i, j int) bool { return key(served[i]) < key(served[j]) })
	return members, served
}

func appendUnique(list []string, more ...string) []string {
	for _, m := range more {
		dup := m == ""
		for _, l := range list {
			dup = dup || l == m
		}
		if !dup {
			list = append(list, m)
		}
	}
	return list
}

// usableNames keeps the names other hosts accept (see validateName): DNS
// names of bounded shape, at most maxNames of them.
func usableNames(names []string) []string {
	out := names[:0:0]
	for _, n := range names {
		if netrules.CheckDNSName(n) == nil && len(out) < maxNames {
			out = append(out, n)
		}
	}
	return out
}
