package datapath

import (
	"fmt"

	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// IPv4 per-device settings (linux/ip.h, IPV4_DEVCONF_*), written through
// netlink (IFLA_AF_SPEC/AF_INET/IFLA_INET_CONF) rather than /proc/sys,
// which a plugin's container may have read-only. The kernel decides
// whether to forward a packet by the setting of the device it came in on,
// so forwarding is turned on only on a direct network's bridge and macvlan,
// never for the whole namespace. On the bridge it also carries, back onto
// the bridge and so into VXLAN, what containers still send to the bridge's
// MAC from their ARP caches after a remote left the direct path.
const (
	devconfForwarding     = 1
	devconfSendRedirects  = 6
	devconfRPFilter       = 8
	devconfArpIgnore      = 19
	iflaInetConf          = 1
	arpIgnoreNever        = 8 // never answer ARP
	rpFilterOff           = 0
	inetConfSetLinkFamily = unix.AF_INET
)

var (
	forwardingOn = map[int]uint32{devconfForwarding: 1, devconfSendRedirects: 0}
	// macvlanConf: forward what comes in (to the bridge), never answer ARP
	// for the namespace's addresses. The reverse-path filter is off on the
	// macvlan: while two hosts disagree for a moment (one sees the other's
	// direct MAC first), a peer's packets come in through the macvlan and
	// the replies leave through VXLAN, which the filter would drop (in
	// either mode: the macvlan has no address). The kernel applies the
	// larger of this and the namespace's "all" setting, which a new
	// namespace copies from the host's: where the host sets
	// net.ipv4.conf.all.rp_filter, such packets are dropped until both
	// hosts agree (their next reconcile).
	macvlanConf = map[int]uint32{devconfForwarding: 1, devconfSendRedirects: 0, devconfRPFilter: rpFilterOff,
		devconfArpIgnore: arpIgnoreNever}
)

// setInetConf writes IPv4 settings conf of device index in namespace ns.
func setInetConf(ns netns.NsHandle, index int, conf map[int]uint32) error {
	s, err := nl.GetNetlinkSocketAt(ns, netns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink socket in a network namespace: %w", err)
	}
	defer s.Close()
	req := nl.NewNetlinkRequest(unix.RTM_SETLINK, unix.NLM_F_ACK)
	req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: {Socket: s}}
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = int32(index)
	req.AddData(msg)
	spec := nl.NewRtAttr(unix.IFLA_AF_SPEC, nil)
	c := spec.AddRtAttr(inetConfSetLinkFamily, nil).AddRtAttr(iflaInetConf, nil)
	for k, v := range conf {
		c.AddRtAttr(k, nl.Uint32Attr(v))
	}
	req.AddData(spec)
	if _, err := req.Execute(unix.NETLINK_ROUTE, 0); err != nil {
		return fmt.Errorf("set IPv4 settings of link %d: %w", index, err)
	}
	return nil
}
