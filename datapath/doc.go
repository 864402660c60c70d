// Package datapath owns the kernel state of weavego networks on one host:
// a Linux bridge per network, an optional VXLAN device enslaved to it, a veth
// pair per local endpoint, the VXLAN forwarding (FDB) and neighbour entries
// that point at remote containers, the nftables rules that let bridged
// traffic through Docker's FORWARD policy while isolating networks, and the
// host input rules that keep containers and strangers away from the host.
//
// # Design
//
// The package is told the desired state and makes the kernel match it; every
// call is idempotent, so a reconciler may repeat any of them after a restart
// or a missed event. It never learns: VXLAN learning is off and every FDB and
// neighbour entry is permanent and written by SetRemotes, which removes what
// the caller no longer wants. The VXLAN device runs with proxy ARP/ND, so
// address resolution is answered from its neighbour table and never crosses
// the tunnel; that is what lets every host put the same gateway address on
// its bridge.
//
// The package never moves links into containers, never assigns container
// addresses and holds no gossip state: the driver and the mesh own those. It
// only touches links whose names carry its prefixes (see BridgeName) and the
// nftables objects named in firewall.go and firewall_input_rules.go. It runs in the namespace of the
// netlink handle and nftables connection it is given; it never calls setns
// itself.
//
// # Device names
//
// Names derive from Docker's IDs and fit IFNAMSIZ (15 characters):
// bridge "wgb-" + network ID[:11], VXLAN "wgx-" + network ID[:11], veth host
// end "wgv-" + endpoint ID[:11], veth container end "wgc-" + endpoint ID[:11].
// The full network ID is stored as the bridge's alias so NetworkIDs can
// report it after a restart.
//
// # Firewall
//
// Docker sets the FORWARD policy to DROP and loads br_netfilter, so frames
// bridged between two ports of a weavego bridge traverse the IPv4 FORWARD
// hook (iifname and oifname are both the bridge) and would be dropped. Per
// network the package accepts "iifname B oifname B" and drops everything
// else forwarded into or out of any "wgb-" bridge: containers also sit on
// docker_gwbridge, whose rules would otherwise let them route into another
// weavego network. When Docker's iptables-nft table "ip filter" has a FORWARD
// chain, the rules live in our chain WEAVEGO-FORWARD in that table with a jump
// at the head of FORWARD (an accept in another table cannot override a drop
// policy). The rules use only the expressions iptables-nft itself writes, so
// "iptables -S" keeps working. Without that table the rules live in our own
// table "ip weavego". EnsureFirewall is cheap when nothing changed; call it
// periodically, because restarting Docker may flush its chains.
//
// The host's input is filtered in our own table "inet weavego-input" (base
// chain "input", hook input, policy accept). From a "wgb-" bridge the host
// accepts only replies to connections it started, DNS (UDP and TCP to
// DNS_PORT) and ping; the rest is dropped and counted in the named counter
// "from-container", so the gossip port and every other host port are out of
// reach of containers, --internal networks included. Containers also reach the host's underlay address through
// docker_gwbridge: the gossip and VXLAN ports are dropped there too (same
// counter). UDP to VXLAN_PORT is accepted only from the addresses in the
// sets "vxlan_peers" (IPv4) and "vxlan_peers6" (IPv6), which SetVXLANPeers
// keeps equal to the live members; other sources are dropped and counted in
// "vxlan-non-member" (see FirewallCounters). A drop in any base chain drops
// the packet, so these rules hold whatever firewall backend Docker uses,
// iptables-legacy included. RemoveFirewall deletes all of it.
//
// Limitation: with iptables-legacy the legacy tables are invisible to
// nftables, and their FORWARD DROP policy still applies. Users must then
// accept forwarding on the bridges themselves (iptables -I FORWARD -i wgb-+
// -o wgb-+ ... ) or set net.bridge.bridge-nf-call-iptables=0. IPv6
// (ip6tables, bridge-nf-call-ip6tables) is not handled: weavego subnets are
// IPv4.
package datapath
