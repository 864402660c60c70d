package dnsd

import (
	"net"
	"net/netip"
)

// Served is one local weavego network: dnsd answers clients whose address
// lies in Subnet or Subnet6 and listens on Gateway and Gateway6. The
// subnets of one host's networks never overlap, so a client address lies
// in at most one of them.
type Served struct {
	// Network is the network's name, for logs.
	Network string
	// VNI identifies the network in records (Record.VNI, Member.VNI).
	VNI uint32
	// Subnet holds the IPv4 addresses of the network's containers.
	Subnet netip.Prefix
	// Gateway is listened on when valid.
	Gateway netip.Addr
	// Subnet6 holds the IPv6 addresses of the containers of a dual-stack
	// network (invalid: none); its clients are the same network's clients
	// as those of Subnet, with the same scope, budgets and rules.
	Subnet6 netip.Prefix
	// Gateway6 is listened on when valid, as Gateway.
	Gateway6 netip.Addr
	// NetNS is the path of the network namespace the gateway (and the
	// service address) of this network live in; "" means the server's own.
	NetNS string
	// Internal marks an --internal network: no egress, so nothing its
	// clients ask is forwarded upstream (REFUSED); its names still answer.
	Internal bool
}

// client is who asks: an address on one served network, and the networks
// whose records it may see (nil: a stranger to the table, forwarding only).
type client struct {
	addr  netip.Addr
	scope []uint32
	// network is the address of the client's subnet: the key of its
	// network's forwarding budget.
	network netip.Addr
	// share is what its network holds of the forwards in flight.
	share *share
	// internal: the client's network is --internal, nothing is forwarded.
	internal bool
}

// client identifies the sender of a request that arrived at d (nil: the
// handler was called directly) from its source address: a client of d's
// network, or of a network of d's namespace, whose subnet holds the address.
// ok is false when there is none: such requests are refused.
func (h *Handler) client(remote net.Addr, idx *index, d *door) (c client, ok bool) {
	var ip net.IP
	switch a := remote.(type) {
	case *net.UDPAddr:
		ip = a.IP
	case *net.TCPAddr:
		ip = a.IP
	}
	addr, valid := netip.AddrFromSlice(ip)
	if !valid {
		return client{}, false
	}
	addr = addr.Unmap()
	served, only := h.served.Load(), (*servedNet)(nil)
	if d != nil {
		served, only = d.network()
	}
	if served == nil {
		return client{}, false
	}
	if only != nil {
		return only.client(addr, idx)
	}
	for i := range served.nets {
		if n := &served.nets[i]; d == nil || n.NetNS == d.at.netns {
			if c, ok := n.client(addr, idx); ok {
				return c, true
			}
		}
	}
	return client{}, false
}

// client is addr as a client of n, if one of n's subnets holds it. Both
// families of a network share its budget (keyed by n.key()).
func (n *servedNet) client(addr netip.Addr, idx *index) (client, bool) {
	if !n.Subnet.Contains(addr) && !n.Subnet6.Contains(addr) {
		return client{}, false
	}
	return client{addr: addr, scope: idx.scope(n.VNI, addr), network: n.key(), share: n.share,
		internal: n.Internal}, true
}

// setServed replaces the networks whose clients are answered.
// Concurrent calls are serialised by setMu.
func (h *Handler) setServed(nets []Served) {
	h.setMu.Lock()
	defer h.setMu.Unlock()
	h.served.Store(newServedSet(nets, h.served.Load(), h.cfg.AnswerRate/answerShares))
}
