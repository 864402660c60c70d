// Package tunnel owns this host's WireGuard device, the cipher of encrypted
// networks: its key pair, the device itself (kernel WireGuard where the
// kernel has it, else wireguard-go over a TUN device inside this process,
// both configured through wgctrl), its peers, and the policy routing that
// sends the VXLAN of encrypted networks into it.
//
// The VXLAN devices of encrypted networks use their own UDP port
// (Config.VXLANPort). A policy rule sends every datagram to that port into
// a routing table of its own, whose only way out is the WireGuard device; a
// blackhole route in the same table, of the lowest priority, catches what
// the device cannot take (the device is gone: the plugin stopped, or never
// came up). So encrypted frames never leave in clear, whatever this package
// or its caller gets wrong: the worst case is that they are dropped.
//
// Peers are given by the caller (package reconcile, from the records of live
// members); each peer's allowed address is its underlay address alone, so a
// member's key speaks only for that member's address. It never decides who
// is a peer, and never touches the networks' namespaces.
//
// The userspace path's TUN device (tundev.go) takes whole VXLAN
// super-packets where the kernel offers UDP tunnel segmentation (Linux
// 6.17) and splits them itself (segment.go), and writes decrypted datagrams
// back as UDP super-packets (coalesce.go), so that wireguard-go works in
// batches rather than one system call per datagram.
package tunnel
