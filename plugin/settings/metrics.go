package settings

import (
	"net"
	"net/netip"
	"strconv"
)

// hostPort reads a host:port listen address; empty means off. The host is
// an IP address (v6 in brackets) or empty for every address.
func (p *parser) hostPort(name string) string {
	v := p.str(name, "")
	if v == "" {
		return ""
	}
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		p.fail(name, "%q is not host:port, such as 127.0.0.1:9783", v)
		return ""
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		p.fail(name, "%q: the port must be a number from 1 to 65535", v)
		return ""
	}
	if host != "" {
		if _, err := netip.ParseAddr(host); err != nil {
			p.fail(name, "%q: the host must be an IP address (a name cannot be listened on)", v)
			return ""
		}
	}
	return v
}
