package cluster

import (
	"context"
	"fmt"
	"net"
	"sort"

	"github.com/weavego/weavego/dnsd"
	"github.com/weavego/weavego/dockerapi"
	"github.com/weavego/weavego/netrules"
)

// DNSTable is the agent's view of the DNS server's names.
type DNSTable interface {
	Replace(records []dnsd.Record) error
}

// DNSListeners is the agent's view of the DNS server's sockets.
type DNSListeners interface {
	SetListenAddrs(addrs []net.IP) error
}

// syncNames publishes the names of the containers attached here to weavego
// networks, then gives the DNS server every live name of the cluster and the
// gateway addresses to listen on.
func (a *Agent) syncNames(ctx context.Context, local []dockerapi.Network) {
	want := map[string][]byte{}
	for _, n := range local {
		a.mu.Lock()
		rec, ok := a.networks[n.ID]
		a.mu.Unlock()
		if !ok {
			continue
		}
		for cid, att := range n.Containers {
			names := []string{att.Name}
			if c, err := a.docker.Container(ctx, cid); err == nil {
				if cn, ok := c.Networks[n.ID]; ok {
					names = appendUnique(names, cn.Aliases...)
				}
			}
			if names = usableNames(names); len(names) == 0 {
				continue
			}
			want[fmt.Sprintf("%s/%d", cid, rec.VNI)] = encode(NameRec{Names: names, IP: att.IP, VNI: rec.VNI, Network: n.Name})
		}
	}
	a.publishOwn(KindName, want)
	a.feedDNS()
}

// feedDNS hands the DNS server the names of live hosts and the local gateways.
func (a *Agent) feedDNS() {
	if a.table == nil {
		return
	}
	var records []dnsd.Record
	for _, e := range a.rep.List(KindName) {
		if !a.rep.Alive(e.Owner) {
			continue
		}
		rec, ok := decode[NameRec](e.Value)
		if !ok || !rec.IP.IsValid() {
			continue
		}
		for _, name := range rec.Names {
			records = append(records, dnsd.Record{Name: name, IP: ipOf(rec.IP), Network: rec.Network})
		}
	}
	if err := a.table.Replace(records); err != nil {
		a.log.Warn("DNS names", "err", err)
	}
	if a.listen == nil {
		return
	}
	var addrs []net.IP
	a.mu.Lock()
	for _, n := range a.networks {
		if n.Gateway.IsValid() {
			addrs = append(addrs, ipOf(n.Gateway))
		}
	}
	a.mu.Unlock()
	sort.Slice(addrs, func(i, j int) bool { return addrs[i].String() < addrs[j].String() })
	if err := a.listen.SetListenAddrs(addrs); err != nil {
		a.log.Warn("DNS listeners", "err", err)
	}
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
