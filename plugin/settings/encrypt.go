package settings

import (
	"strconv"

	"github.com/weavego/weavego/tunnel"
)

// Defaults of the encryption settings.
const (
	DefaultWireGuardPort      = tunnel.DefaultPort
	DefaultEncryptedVXLANPort = tunnel.DefaultVXLANPort
)

// encryption parses WIREGUARD_PORT, ENCRYPTED_VXLAN_PORT and ENCRYPT_DEFAULT,
// and checks them against the other ports.
func (p *parser) encryption(s *Settings) {
	s.WireGuardPort = p.integer("WIREGUARD_PORT", DefaultWireGuardPort, 1, 65535)
	s.EncryptedVXLANPort = p.integer("ENCRYPTED_VXLAN_PORT", DefaultEncryptedVXLANPort, 1, 65535)
	s.EncryptDefault = p.boolean("ENCRYPT_DEFAULT")
	ports := map[string]int{"GOSSIP_PORT": s.GossipPort, "VXLAN_PORT": s.VXLANPort}
	for _, name := range []string{"GOSSIP_PORT", "VXLAN_PORT"} {
		if s.WireGuardPort == ports[name] {
			p.fail("WIREGUARD_PORT", "%d is also %s: pick another (the default is %d)", s.WireGuardPort, name,
				DefaultWireGuardPort)
		}
		if s.EncryptedVXLANPort == ports[name] {
			p.fail("ENCRYPTED_VXLAN_PORT", "%d is also %s: pick another (the default is %d)", s.EncryptedVXLANPort,
				name, DefaultEncryptedVXLANPort)
		}
	}
	if s.WireGuardPort == s.EncryptedVXLANPort {
		p.fail("ENCRYPTED_VXLAN_PORT", "%d is also WIREGUARD_PORT: pick another (the default is %d)",
			s.EncryptedVXLANPort, DefaultEncryptedVXLANPort)
	}
}

// boolean parses setting name as true or false; empty is false.
func (p *parser) boolean(name string) bool {
	v := p.str(name, "")
	if v == "" {
		return false
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.fail(name, "%q is not true or false", v)
	}
	return b
}
