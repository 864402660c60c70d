package datapath

import (
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// nftables objects of the host input firewall, all in our own table.
const (
	// InputTable is our "inet" table holding the input chain, the VXLAN
	// allowlist sets and the drop counters.
	InputTable = "weavego-input"
	// VXLANPeersSet holds the IPv4 underlay addresses of live members.
	VXLANPeersSet = "vxlan_peers"
	// VXLANPeers6Set holds their IPv6 underlay addresses.
	VXLANPeers6Set = "vxlan_peers6"
	// CounterVXLANNonMember is the named counter of VXLAN packets dropped
	// because no member's kernel sent them: their source is not a live
	// member, their destination is not this host's underlay address, or a
	// local user's socket on this host sent them.
	CounterVXLANNonMember = "vxlan-non-member"
	// CounterFromContainer is the named counter of packets from containers
	// that were dropped: to the host's gossip and VXLAN ports through
	// docker_gwbridge, or forwarded to a member's.
	CounterFromContainer = "from-container"

	inputChainName   = "input"
	forwardChainName = "forward"
	outputChainName  = "output"
	gwBridge         = "docker_gwbridge"
	commentPrefix    = "weavego: "
)

// Ports the input rules use when Config leaves them zero (the VXLAN one is
// DefaultVXLANPort).
const (
	DefaultDNSPort    = 53
	DefaultGossipPort = 6783
)

// inputSpec is what the input rules are about: the host's ports, and its
// underlay address, the only one where members send VXLAN (invalid: unknown,
// and no rule about it).
type inputSpec struct {
	dns, gossip, vxlan uint16
	vtep               netip.Addr
	// wireguard is WireGuard's port, encVXLAN the VXLAN port of encrypted
	// networks and wgDevice the WireGuard device, the only way in for it
	// (all zero: no encryption, no rules about them).
	wireguard, encVXLAN uint16
	wgDevice            string
}

// inRule is one rule of the input chain. Its comment names it and the ports
// it uses, so comparing comments tells whether the chain is up to date.
type inRule struct {
	comment string
	exprs   []expr.Any
}

func inputTableRef() *nftables.Table {
	return &nftables.Table{Name: InputTable, Family: nftables.TableFamilyINet}
}

// peerSets are the allowlist sets, IPv4 first.
func peerSets(tb *nftables.Table) [2]*nftables.Set {
	return [2]*nftables.Set{
		{Table: tb, Name: VXLANPeersSet, KeyType: nftables.TypeIPAddr},
		{Table: tb, Name: VXLANPeers6Set, KeyType: nftables.TypeIP6Addr},
	}
}

// inputRules is the whole input chain, in order. Containers reach the host
// only through docker_gwbridge (their network's bridge and gateway are in
// the network's namespace, which routes nowhere): the gossip and VXLAN ports
// are dropped there, as is everything from a weavego bridge left in the
// host namespace. VXLAN from anywhere is accepted only from the addresses
// in the allowlist sets.
func inputRules(p inputSpec) []inRule {
	gw := ifname(exactIf(gwBridge))
	rules := []inRule{
		{fmt.Sprintf("gwbridge gossip tcp/%d", p.gossip), cat(gw, l4(unix.IPPROTO_TCP), dport(p.gossip), drop(CounterFromContainer))},
		{fmt.Sprintf("gwbridge gossip udp/%d", p.gossip), cat(gw, l4(unix.IPPROTO_UDP), dport(p.gossip), drop(CounterFromContainer))},
		{fmt.Sprintf("gwbridge vxlan udp/%d", p.vxlan), cat(gw, l4(unix.IPPROTO_UDP), dport(p.vxlan), drop(CounterFromContainer))},
		// A bridge is in the host namespace only while its network is
		// parked (see park.go) or not yet moved: the host is then on the
		// containers' path, and nothing of it is theirs to reach.
		{"parked bridge", cat(ifname(prefixIf(BridgePrefix)), drop(CounterFromContainer))},
	}
	rules = append(rules, tunnelInputRules(p, gw)...)
	for i, s := range peerSets(nil) {
		fam, off, size := byte(unix.NFPROTO_IPV4), uint32(12), uint32(4)
		if i == 1 {
			fam, off, size = unix.NFPROTO_IPV6, 8, 16
		}
		rules = append(rules, inRule{
			fmt.Sprintf("vxlan udp/%d from non-member (%s)", p.vxlan, s.Name),
			cat(nfproto(fam), l4(unix.IPPROTO_UDP), dport(p.vxlan),
				[]expr.Any{
					&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: size},
					&expr.Lookup{SourceRegister: 1, SetName: s.Name, Invert: true},
				},
				drop(CounterVXLANNonMember)),
		})
	}
	rules = append(rules, vtepRules(p)...)
	for i := range rules {
		rules[i].comment = commentPrefix + rules[i].comment
	}
	return rules
}

// vtepRules drop VXLAN sent to any address of the host but its underlay
// address. The kernel's VXLAN socket is bound to the wildcard address: a
// datagram from a member's address (a container masqueraded to it, say) to
// a second address of the host would otherwise pass the allowlist, which
// looks at the source only. VXLAN over the other IP family is dropped
// whole: no VXLAN device of the host listens there.
func vtepRules(p inputSpec) []inRule {
	if !p.vtep.IsValid() {
		return nil
	}
	var rules []inRule
	for _, fam := range []struct {
		nf        byte
		off, size uint32
		is4       bool
		name      string
	}{{unix.NFPROTO_IPV4, 16, 4, true, "IPv4"}, {unix.NFPROTO_IPV6, 24, 16, false, "IPv6"}} {
		match := cat(nfproto(fam.nf), l4(unix.IPPROTO_UDP), dport(p.vxlan))
		what := fmt.Sprintf("vxlan udp/%d to an address other than %s", p.vxlan, p.vtep)
		if fam.is4 == p.vtep.Is4() {
			match = cat(match, []expr.Any{
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: fam.off, Len: fam.size},
				&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: p.vtep.AsSlice()}})
		} else {
			what = fmt.Sprintf("vxlan udp/%d over %s", p.vxlan, fam.name)
		}
		rules = append(rules, inRule{what, cat(match, drop(CounterVXLANNonMember))})
	}
	return rules
}

// fwChain is one base chain of our table with its rules, in order.
type fwChain struct {
	name  string
	hook  *nftables.ChainHook
	rules []inRule
}

// tableChains are the base chains of our table: input (what reaches the
// host) and forward (what containers send through the host).
func tableChains(p inputSpec) []fwChain {
	return []fwChain{
		{name: inputChainName, hook: nftables.ChainHookInput, rules: inputRules(p)},
		{name: forwardChainName, hook: nftables.ChainHookForward, rules: forwardRules(p)},
		{name: outputChainName, hook: nftables.ChainHookOutput, rules: outputRules(p)},
	}
}

// outputRules drop VXLAN datagrams that a local user other than root sends
// from this host (so from its own, allowlisted, address). The kernel's own
// VXLAN datagrams carry no socket here: a network's VXLAN device lives in
// the network's namespace and its frames lose their socket on the way to the
// host namespace's tunnel socket, so "meta skuid" never matches them.
func outputRules(p inputSpec) []inRule {
	root := make([]byte, 4) // uid 0, in any byte order
	ports := []uint16{p.vxlan}
	if p.encVXLAN != 0 {
		ports = append(ports, p.encVXLAN)
	}
	var rules []inRule
	for _, port := range ports {
		rules = append(rules, inRule{commentPrefix + fmt.Sprintf("vxlan udp/%d from a local user", port),
			cat(l4(unix.IPPROTO_UDP), dport(port),
				[]expr.Any{&expr.Meta{Key: expr.MetaKeySKUID, Register: 1},
					&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: root}},
				drop(CounterVXLANNonMember))})
	}
	return rules
}

// forwardRules drop what containers send, through the host's egress NAT, to
// the VXLAN and gossip ports of members: masqueraded to this host's own
// underlay address, it would pass the other members' allowlists. The
// host's own VXLAN and gossip traffic leaves through output, never forward.
func forwardRules(p inputSpec) []inRule {
	var rules []inRule
	for i, s := range peerSets(nil) {
		fam, off, size := byte(unix.NFPROTO_IPV4), uint32(16), uint32(4)
		if i == 1 {
			fam, off, size = unix.NFPROTO_IPV6, 24, 16
		}
		toMember := []expr.Any{
			&expr.Payload{DestRegister: 2, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: size},
			&expr.Lookup{SourceRegister: 2, SetName: s.Name},
		}
		for _, r := range []struct {
			what  string
			proto byte
			port  uint16
		}{{"vxlan udp", unix.IPPROTO_UDP, p.vxlan}, {"gossip udp", unix.IPPROTO_UDP, p.gossip},
			{"gossip tcp", unix.IPPROTO_TCP, p.gossip}, {"wireguard udp", unix.IPPROTO_UDP, p.wireguard}} {
			if r.port == 0 {
				continue
			}
			rules = append(rules, inRule{
				fmt.Sprintf("forwarded %s/%d to a member (%s)", r.what, r.port, s.Name),
				cat(nfproto(fam), l4(r.proto), dport(r.port), toMember, drop(CounterFromContainer)),
			})
		}
	}
	for i := range rules {
		rules[i].comment = commentPrefix + rules[i].comment
	}
	return rules
}

func cat(parts ...[]expr.Any) []expr.Any {
	var es []expr.Any
	for _, p := range parts {
		es = append(es, p...)
	}
	return es
}

func ifname(data []byte) []expr.Any {
	return []expr.Any{&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: data}}
}

func nfproto(fam byte) []expr.Any {
	return []expr.Any{&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{fam}}}
}

func l4(proto byte) []expr.Any {
	return []expr.Any{&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}}}
}

// dport matches the destination port of a TCP or UDP header.
func dport(port uint16) []expr.Any {
	return []expr.Any{&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(port)}}
}

// drop counts the packet in the named counter and drops it.
func drop(counter string) []expr.Any {
	return []expr.Any{&expr.Objref{Type: int(nftables.ObjTypeCounter), Name: counter},
		&expr.Verdict{Kind: expr.VerdictDrop}}
}
