package status

import "fmt"

// Engine is what the plugin knows of the Docker engine it serves and of the
// host's forwarding, on which egress through docker_gwbridge depends.
type Engine struct {
	// Version is the engine's version, "" until the plugin has read it.
	Version string `json:",omitempty"`
	// FirewallBackend is the engine's firewall backend: "iptables" or
	// "nftables" (Docker 29's `"firewall-backend": "nftables"`); "" when the
	// engine does not say (before API 1.49: iptables) or is not read yet.
	FirewallBackend string `json:",omitempty"`
	// IPForward is IPv4 forwarding in the host's network namespace: "on",
	// "off", or "" when it could not be read.
	IPForward string `json:",omitempty"`
	// Err says why the engine could not be read, "" when it was.
	Err string `json:",omitempty"`
}

// Sentence describes the engine and forwarding in one line.
func (e Engine) Sentence() string {
	fwd := "IPv4 forwarding " + e.IPForward
	if e.IPForward == "" {
		fwd = "IPv4 forwarding not read"
	}
	switch {
	case e.Version == "" && e.Err != "":
		return fmt.Sprintf("Docker engine not read (%s); %s", e.Err, fwd)
	case e.Version == "":
		return "Docker engine not read yet; " + fwd
	}
	fb := e.FirewallBackend
	if fb == "" {
		fb = "iptables (the engine does not say)"
	}
	return fmt.Sprintf("Docker engine %s, firewall backend %s; %s", e.Version, fb, fwd)
}

// ForwardingProblem returns the problem of a host whose IPv4 forwarding is off:
// Docker routes the egress and published ports of weavego's containers through
// docker_gwbridge, which needs it. Docker's nftables backend never turns it
// on (its iptables backend does).
func ForwardingProblem(e Engine) (Problem, bool) {
	if e.IPForward != "off" {
		return Problem{}, false
	}
	what := "IPv4 forwarding is off on this host (net.ipv4.ip_forward=0): containers on weavego networks have no egress " +
		"through docker_gwbridge, and their -p ports answer only on this host"
	if e.FirewallBackend == "nftables" {
		what += " (Docker's nftables firewall backend leaves forwarding to the host)"
	}
	return Problem{What: what, Fix: "sysctl -w net.ipv4.ip_forward=1, and keep it in /etc/sysctl.d/ " +
		"(with rules that block forwarding you do not want, as Docker's nftables documentation says)"}, true
}
