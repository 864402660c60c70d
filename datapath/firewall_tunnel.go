package datapath

import (
	"fmt"

	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// tunnelInputRules are the input rules about encryption: containers reach
// the WireGuard port no more than the gossip and VXLAN ports, and the VXLAN
// of encrypted networks is taken only from the WireGuard device, where it
// arrives decrypted from a peer whose key the device knows. The same VXLAN
// datagram sent in clear on the underlay (by anyone: the port is known) is
// dropped, so no one outside the tunnel can put a frame into an encrypted
// network.
func tunnelInputRules(p inputSpec, gw []expr.Any) []inRule {
	if p.encVXLAN == 0 || p.wgDevice == "" {
		return nil
	}
	notTunnel := []expr.Any{&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: exactIf(p.wgDevice)}}
	rules := []inRule{
		{fmt.Sprintf("encrypted vxlan udp/%d not from %s", p.encVXLAN, p.wgDevice),
			cat(l4(unix.IPPROTO_UDP), dport(p.encVXLAN), notTunnel, drop(CounterVXLANNonMember))},
	}
	if p.wireguard != 0 {
		rules = append(rules, inRule{fmt.Sprintf("gwbridge wireguard udp/%d", p.wireguard),
			cat(gw, l4(unix.IPPROTO_UDP), dport(p.wireguard), drop(CounterFromContainer))})
	}
	return rules
}
