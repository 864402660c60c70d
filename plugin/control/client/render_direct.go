package client

import (
	"fmt"
	"io"

	"github.com/weavego/weavego/reconcile"
)

// renderDirect prints, per direct network, the path its unicast takes to
// each peer host.
func renderDirect(w io.Writer, nets []reconcile.NetworkStatus) {
	for _, n := range nets {
		if !n.Direct {
			continue
		}
		mac := n.DirectMAC
		if mac == "" {
			mac = "none here, VXLAN only"
		}
		fmt.Fprintf(w, "\ndirect network %s (macvlan %s):", n.Name, mac)
		if len(n.Paths) == 0 {
			fmt.Fprintf(w, " no containers on other hosts yet\n")
			continue
		}
		fmt.Fprintf(w, "\nPEER\tADDRESS\tPATH\n")
		for _, p := range n.Paths {
			fmt.Fprintf(w, "%s\t%s\t%s\n", p.Host, p.Addr, p.Path)
		}
	}
}
