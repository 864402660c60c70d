// Package datapath owns the kernel state of weavego networks on one host:
// a network namespace per network holding its bridge, an optional VXLAN
// device enslaved to it and the host ends of the endpoints' veths; the
// VXLAN forwarding (FDB) and neighbour entries that point at remote
// containers; and the host input rules that keep containers' egress and
// strangers away from the gossip and VXLAN ports.
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
// only touches links whose names carry its prefixes (see BridgeName), the
// namespaces pinned in its own directory (Config.NSDir) and the nftables
// objects named in firewall_input_rules.go (and, to remove them, those an
// earlier weavego wrote, in firewall.go). Its host namespace is that of the
// netlink handle and nftables connection it is given. It enters a network's
// namespace only through handles bound to it, and through package nsrun
// (a throwaway locked thread) to create it.
//
// # Namespaces
//
// EnsureNetwork creates the namespace of a network and pins it with a bind
// mount at NSDir/<network ID>, where a restarted process finds it again;
// NSDir must outlive the process (the plugin's propagated mount). The VXLAN
// device is created in the host namespace, so that its UDP socket is bound
// there on the underlay, and then moved into the network's namespace. A veth
// pair is created with its host end in the network's namespace and its
// container end in the host namespace, where Docker expects it. DeleteNetwork
// deletes the devices and the pin. The namespace routes nowhere: networks are
// isolated from each other and from the host by construction, with no
// forward rule, whatever firewall backend Docker uses. In the namespace
// br_netfilter's sysctls are turned off where the kernel allows it: nothing
// there filters.
//
// A direct network (Network.Direct) also has a macvlan device in its
// namespace, created on the underlay link in the host namespace and moved in
// like the VXLAN device, through which IPv4 unicast to peers on the same
// segment is routed without VXLAN; only then does the namespace route, and
// only between its bridge and that macvlan (direct.go, remotes_direct.go,
// direct_filter.go).
//
// An earlier weavego kept all of a network in the host namespace;
// EnsureNetwork moves such a network into its namespace (see migrate.go).
//
// # Shutdown
//
// The pins do not outlive a graceful stop: Docker unmounts the plugin's
// directory, propagated mount included, when it stops the plugin for good
// (docker plugin disable, upgrade, make install, dockerd stop), and a
// namespace with no pin and no process in it dies with its devices, the
// containers' veths included. Nothing else the plugin can mount is outside
// that directory on a host whose root mount is private. So on SIGTERM the
// plugin calls Park, which moves each network back into the host
// namespace, the reverse of the migration (see park.go): a bridge with the
// same name, MAC and addresses there, the VXLAN device and the host ends of
// the veths moved to it. Containers stay connected while no plugin runs,
// through the host namespace, with the forward rules below and all input
// from the bridges dropped; the next EnsureNetwork moves the network into a
// new namespace. A crash or SIGKILL leaves the directory mounted (Docker
// restarts the plugin), so the pins, and the networks, survive it. Park
// stops when its context ends: Docker sends SIGKILL 10 seconds after
// SIGTERM.
//
// # Device names
//
// Names derive from Docker's IDs and fit IFNAMSIZ (15 characters):
// bridge "wgb-" + network ID[:11], VXLAN "wgx-" + network ID[:11], macvlan
// of a direct network "wgm-" + network ID[:11], veth host
// end "wgv-" + endpoint ID[:11], veth container end "wgc-" + endpoint ID[:11].
// The full network ID is stored as the bridge's and VXLAN device's alias.
//
// # Firewall
//
// The host's input is filtered in our own table "inet weavego-input" (base
// chains "input", "forward" and "output", policy accept). Containers reach
// the host only through docker_gwbridge (and, while their network is parked,
// its bridge, from which everything is dropped): the gossip and VXLAN ports
// are dropped there, and counted in the named counter "from-container"; so
// are their datagrams forwarded to a member's VXLAN or gossip port
// (masqueraded to this host's address, they would pass the member's
// allowlist). UDP to VXLAN_PORT is accepted only from the addresses in the
// sets "vxlan_peers" (IPv4) and "vxlan_peers6" (IPv6), which SetVXLANPeers
// keeps equal to the live members, and only to the host's underlay address
// (Config.VTEP: the kernel's VXLAN socket takes datagrams to every local
// address, and a member's source address alone proves little when a
// container is masqueraded to it); other datagrams are dropped and counted
// in "vxlan-non-member", as are VXLAN datagrams a local user other than root
// sends from this host (see FirewallCounters). A drop in any base chain
// drops the packet, so these rules hold whatever firewall backend Docker
// uses. While any network's bridge is in the host namespace, frames bridged
// within it would meet Docker's FORWARD policy (br_netfilter): our chain
// "WEAVEGO-FORWARD" in Docker's table (or our table "ip weavego" without it)
// accepts them and drops anything else forwarded into or out of a weavego
// bridge; it is removed once every network is in its namespace
// (firewall_forward.go). EnsureFirewall is cheap when nothing changed;
// RemoveFirewall deletes all of it. IPv6 (ip6tables) is not handled: weavego
// subnets are IPv4.
package datapath
