package dnsd

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Defaults used for zero-valued Config fields.
const (
	// DefaultDomain is the zone under which container names are published.
	DefaultDomain = "weavego.local"
	// DefaultTTL is the TTL of local answers. Records follow containers that
	// come and go, and glibc clients do not cache at all, so the TTL only
	// matters to caching stub resolvers inside containers: 5 s bounds how
	// long they keep a dead container's address while still absorbing bursts.
	DefaultTTL = 5 * time.Second
	// DefaultPort is the port listened on for UDP and TCP.
	DefaultPort = 53
	// DefaultResolvConf is read for upstream resolvers when none are configured.
	DefaultResolvConf = "/etc/resolv.conf"
	// DefaultForwardTimeout bounds one try against one upstream.
	DefaultForwardTimeout = 2 * time.Second
	// AnyPort as Config.Port lets the kernel choose a port (tests).
	AnyPort = -1
)

// systemdResolvConf lists the real upstreams when /etc/resolv.conf only names
// the systemd-resolved stub on 127.0.0.53; when it is not readable (it is not
// mounted into the plugin), the stub itself is used (see resolvConf.read).
const systemdResolvConf = "/run/systemd/resolve/resolv.conf"

// Config configures a Handler and a Server. Zero values mean the defaults.
type Config struct {
	// Domain is the zone for NAME.DOMAIN. answers (default weavego.local).
	Domain string
	// TTL of local answers, rounded down to whole seconds, at least 1 s.
	TTL time.Duration
	// Port for UDP and TCP listeners (default 53; AnyPort for tests).
	Port int
	// Upstreams are "ip" or "ip:port" resolvers tried in order. When empty,
	// the nameservers of ResolvConf are used; loopback ones only when
	// there is no other (the systemd-resolved stub on 127.0.0.53).
	Upstreams []string
	// ResolvConf is read when Upstreams is empty (default /etc/resolv.conf).
	ResolvConf string
	// ForwardTimeout bounds one try against one upstream (default 2 s).
	ForwardTimeout time.Duration
	// ServiceAddr is listened on, besides the gateways, while at least one
	// network is served: the one address every container reaches its own
	// network's dnsd at. Invalid (zero) means none.
	ServiceAddr netip.Addr
	// ServiceAddr6 is the IPv6 one, listened on for the networks that have
	// an IPv6 gateway (their bridges hold it). Invalid (zero) means none.
	ServiceAddr6 netip.Addr
	// ClientRate and ClientBurst are the forwarding budget of one client
	// address (defaults DefaultClientRate per second, DefaultClientBurst).
	ClientRate  float64
	ClientBurst int
	// MaxClients bounds the clients whose budget is remembered
	// (default DefaultMaxClients).
	MaxClients int
	// AnswerRate bounds the requests per second the Server's listeners
	// answer in all, of any kind (default DefaultAnswerRate); one network's
	// clients get at most a quarter of it. Requests beyond it are dropped
	// unanswered (counted as Throttled). Handler.ServeDNS, called directly,
	// is not bounded.
	AnswerRate float64
	// Observer, when set, is told of every reply (for metrics).
	Observer Observer
}

// Observer is told of each reply the handler sends: its rcode, whether an
// upstream gave it, and how long the request took. It is called on the
// serving goroutine and must not block.
type Observer interface {
	ObserveReply(rcode int, forwarded bool, d time.Duration)
}

// withDefaults returns c with defaults applied and validated.
func (c Config) withDefaults() (Config, error) {
	if c.Domain == "" {
		c.Domain = DefaultDomain
	}
	c.Domain = dns.CanonicalName(c.Domain)
	if _, ok := dns.IsDomainName(c.Domain); !ok || c.Domain == "." {
		return c, fmt.Errorf("dns domain %q is not a valid domain name", c.Domain)
	}
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.TTL < time.Second {
		c.TTL = time.Second
	}
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.Port < AnyPort || c.Port > 65535 {
		return c, fmt.Errorf("dns port %d is out of range", c.Port)
	}
	if c.ResolvConf == "" {
		c.ResolvConf = DefaultResolvConf
	}
	if c.ForwardTimeout <= 0 {
		c.ForwardTimeout = DefaultForwardTimeout
	}
	if c.ClientRate <= 0 {
		c.ClientRate = DefaultClientRate
	}
	if c.ClientBurst <= 0 {
		c.ClientBurst = DefaultClientBurst
	}
	if c.AnswerRate <= 0 {
		c.AnswerRate = DefaultAnswerRate
	}
	if c.MaxClients <= 0 {
		c.MaxClients = DefaultMaxClients
	}
	if c.ServiceAddr.IsValid() {
		c.ServiceAddr = c.ServiceAddr.Unmap()
	}
	if c.ServiceAddr6.IsValid() && (!c.ServiceAddr6.Is6() || c.ServiceAddr6.Is4In6()) {
		return c, fmt.Errorf("dns IPv6 service address %s is not an IPv6 address", c.ServiceAddr6)
	}
	ups := make([]string, 0, len(c.Upstreams))
	for _, u := range c.Upstreams {
		hp, err := parseUpstream(u)
		if err != nil {
			return c, err
		}
		ups = append(ups, hp)
	}
	c.Upstreams = ups
	return c, nil
}

// ttlSeconds is the TTL as it goes on the wire.
func (c Config) ttlSeconds() uint32 {
	return uint32(c.TTL / time.Second)
}

// parseUpstream turns "ip" or "ip:port" (IPv6 as "[ip]:port") into host:port.
func parseUpstream(s string) (string, error) {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Port() == 0 {
			return "", fmt.Errorf("dns upstream %q: port 0", s)
		}
		return ap.String(), nil
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return "", fmt.Errorf("dns upstream %q is not ip or ip:port", s)
	}
	return netip.AddrPortFrom(a, DefaultPort).String(), nil
}
