package client

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/weavego/weavego/plugin/status"
)

// renderEncryption prints the encryption section.
func renderEncryption(w io.Writer, s status.Encryption) {
	switch {
	case s.Device != "":
		fmt.Fprintf(w, "\nencryption: WireGuard (%s) on udp/%d, public key %s\n", s.Device, s.Port, s.PublicKey)
	default:
		fmt.Fprintf(w, "\nencryption: NOT available on this host: %s\n", s.Unavailable)
	}
	if len(s.Networks) == 0 {
		fmt.Fprintln(w, "no encrypted network")
		return
	}
	fmt.Fprintf(w, "encrypted networks: %s\nPEER\tADDRESS\tENCRYPTED PATH\tLAST HANDSHAKE\tWHY NOT\n", strings.Join(s.Networks, ", "))
	for _, pe := range s.Peers {
		state, hs := "down", "never"
		if pe.Up {
			state = "up"
		}
		if !pe.LastHandshake.IsZero() {
			hs = time.Since(pe.LastHandshake).Round(time.Second).String() + " ago"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", pe.Name, pe.Addr, state, hs, pe.Reason)
	}
}
