// Package settings reads the plugin's settings from its environment.
//
// Every setting is an environment variable of the managed plugin, changed with
// `docker plugin set weavego NAME=value` while the plugin is disabled. Parse
// checks all of them and reports every bad one in a single error whose text is
// fit for the daemon's log: the plugin exits with it at start.
package settings

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/weavego/weavego/datapath"
	"github.com/weavego/weavego/dnsd"
	"github.com/weavego/weavego/internal/dockerapi"
	"github.com/weavego/weavego/ipalloc"
	"github.com/weavego/weavego/mesh"
)

// Settings holds the plugin's parsed settings.
type Settings struct {
	LogLevel         slog.Level
	AllocRange       netip.Prefix  // IPALLOC_RANGE: space for networks created without --subnet
	SubnetBits       int           // IPALLOC_SUBNET_BITS: prefix length of each such network
	AllocRange6      netip.Prefix  // IPALLOC_RANGE6: IPv6 space for --ipv6 networks created without an IPv6 --subnet
	Peers            []string      // PEERS: host[:port] of other plugins to join
	AdvertiseAddr    netip.Addr    // ADVERTISE_ADDR: this host's underlay address; invalid = find it
	GossipPort       int           // GOSSIP_PORT
	Password         string        // PASSWORD: the gossip key is derived from it when set
	Key              []byte        // KEY: the cluster key, 32 bytes; nil = the saved or a generated one
	InsecureOpen     bool          // INSECURE_OPEN=true: no key, anyone who reaches the gossip port joins
	KeyRollout       string        // KEY_ROLLOUT: "", accept or send (moving an open cluster to a key)
	ControlGroup     string        // CONTROL_GROUP: gid or group name allowed on the control socket
	PluginName       string        // PLUGIN_NAME: the plugin's full name; "" = found through the Docker API
	StatusGroup      string        // STATUS_GROUP: gid or group name allowed on the read-only status socket; "" = no such socket
	Obsolete         []string      // settings still set that weavego no longer reads (logged at start)
	MTU              int           // MTU: 0 = underlay MTU minus VXLAN overhead
	VXLANPort        int           // VXLAN_PORT
	DNSDomain        string        // DNS_DOMAIN
	DNSPort          int           // DNS_PORT
	DNSTTL           int           // DNS_TTL, seconds
	DNSUpstream      []string      // DNS_UPSTREAM: ip[:port] resolvers; empty = the host's resolv.conf
	DNSAddr          netip.Addr    // DNS_ADDR: the service address of dnsd on every network; invalid = off
	DNSAddr6         netip.Addr    // DNS_ADDR6: the IPv6 one, on every network with IPv6; invalid = off (the default)
	DNSClientRate    int           // DNS_CLIENT_RATE: forwarded queries per second of one container (burst: twice that)
	DNSAnswerRate    int           // DNS_ANSWER_RATE: requests per second dnsd answers in all; a network a quarter
	AllocWait        time.Duration // IPALLOC_WAIT: how long a host short of addresses waits for another host to give some
	AutoReclaim      time.Duration // IPALLOC_RECLAIM_AFTER: 0 = never take space of dead hosts automatically
	StateDir         string        // STATE_DIR (the `state` mount)
	DockerHost       string        // DOCKER_HOST (the `docker-api` mount)
	ResolvConf       string        // RESOLV_CONF: where the host's upstream resolvers are read from
	DisableDockerAPI bool          // DOCKER_API=off: run without the Docker API (no names, no network propagation)
	MetricsAddr      string        // METRICS_ADDR: host:port of the Prometheus /metrics listener; "" = off
	TombstoneTTL     time.Duration // TOMBSTONE_TTL: how long each host remembers a deletion (tests shorten it)
	// WireGuardPort (WIREGUARD_PORT) is WireGuard's UDP port on the
	// underlay; EncryptedVXLANPort (ENCRYPTED_VXLAN_PORT) the VXLAN port of
	// encrypted networks, only ever inside the tunnel; EncryptDefault
	// (ENCRYPT_DEFAULT=true) encrypts networks created on this host unless
	// created with -o encrypted=false.
	WireGuardPort, EncryptedVXLANPort int
	EncryptDefault                    bool
	// DirectDefault (DIRECT_DEFAULT=true) makes networks created on this
	// host direct (no VXLAN for unicast within an underlay segment) unless
	// created with -o direct=false or encrypted.
	DirectDefault bool
}

// Defaults of the settings, documented in the README. Each is the default
// of the package that owns the setting, written there once.
const (
	DefaultAllocRange  = ipalloc.DefaultRange
	DefaultAllocRange6 = ipalloc.DefaultRange6
	DefaultGossipPort  = mesh.DefaultPort
	DefaultVXLANPort   = datapath.DefaultVXLANPort
	DefaultDNSDomain   = dnsd.DefaultDomain
	DefaultDNSAddr     = "169.254.53.53"
)

// DefaultDNSClientRate is dnsd's forwarding budget of one container, in queries per second.
const DefaultDNSClientRate = 100

// Getenv looks a variable up; os.LookupEnv fits.
type Getenv func(name string) (string, bool)

// Parse reads every setting through getenv and validates it. The error lists
// every setting that is wrong, one sentence each.
func Parse(getenv Getenv) (Settings, error) {
	p := parser{getenv: getenv}
	s := Settings{
		LogLevel:    p.level("LOG_LEVEL", slog.LevelInfo),
		AllocRange:  p.prefix("IPALLOC_RANGE", DefaultAllocRange),
		SubnetBits:  p.integer("IPALLOC_SUBNET_BITS", ipalloc.DefaultSubnetBits, 8, 30),
		Peers:       p.peers("PEERS"),
		GossipPort:  p.integer("GOSSIP_PORT", DefaultGossipPort, 1, 65535),
		Password:    p.str("PASSWORD", ""),
		MTU:         p.integer("MTU", 0, 0, 65535),
		VXLANPort:   p.integer("VXLAN_PORT", DefaultVXLANPort, 1, 65535),
		DNSDomain:   p.domain("DNS_DOMAIN", DefaultDNSDomain),
		DNSPort:     p.integer("DNS_PORT", dnsd.DefaultPort, 1, 65535),
		DNSTTL:      p.integer("DNS_TTL", int(dnsd.DefaultTTL/time.Second), 0, 86400),
		DNSUpstream: p.list("DNS_UPSTREAM"),
		AllocWait:   p.duration("IPALLOC_WAIT", ipalloc.DefaultSpaceTimeout),
		AutoReclaim: p.duration("IPALLOC_RECLAIM_AFTER", 0),
		StateDir:    p.str("STATE_DIR", "/var/lib/weavego"),
		DockerHost:  p.str("DOCKER_HOST", dockerapi.DefaultHost),
		ResolvConf:  p.str("RESOLV_CONF", dnsd.DefaultResolvConf),
		PluginName:  p.str("PLUGIN_NAME", ""),
	}
	s.AllocRange6 = p.range6("IPALLOC_RANGE6")
	s.AdvertiseAddr = p.addr("ADVERTISE_ADDR")
	s.DNSAddr = p.serviceAddr("DNS_ADDR", DefaultDNSAddr)
	s.DNSAddr6 = p.serviceAddr6("DNS_ADDR6")
	s.DNSClientRate = p.integer("DNS_CLIENT_RATE", DefaultDNSClientRate, 1, 1_000_000)
	s.DNSAnswerRate = p.integer("DNS_ANSWER_RATE", dnsd.DefaultAnswerRate, 100, 100_000_000)
	s.DisableDockerAPI = p.str("DOCKER_API", "on") == "off"
	s.MetricsAddr = p.hostPort("METRICS_ADDR")
	s.TombstoneTTL = p.duration("TOMBSTONE_TTL", mesh.DefaultTombstoneTTL)
	p.security(&s)
	p.encryption(&s)
	s.DirectDefault = p.boolean("DIRECT_DEFAULT")
	if s.MTU != 0 && s.MTU < 576 {
		p.fail("MTU", "%d is too small: give at least 576, or 0 to take the underlay's MTU minus 50", s.MTU)
	}
	if s.AllocRange.IsValid() && s.SubnetBits < s.AllocRange.Bits() {
		p.fail("IPALLOC_SUBNET_BITS", "/%d is larger than IPALLOC_RANGE %s: give a prefix length of at least %d",
			s.SubnetBits, s.AllocRange, s.AllocRange.Bits())
	}
	if s.GossipPort == 7946 {
		p.fail("GOSSIP_PORT", "7946 is Docker swarm's gossip port: pick another (the default is %d)", DefaultGossipPort)
	}
	return s, errors.Join(p.errs...)
}

type parser struct {
	getenv Getenv
	errs   []error
}

func (p *parser) fail(name, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("setting %s: %s", name, fmt.Sprintf(format, args...)))
}

func (p *parser) str(name, def string) string {
	v, ok := p.getenv(name)
	if !ok || strings.TrimSpace(v) == "" {
		return def
	}
	return strings.TrimSpace(v)
}

func (p *parser) level(name string, def slog.Level) slog.Level {
	v := p.str(name, "")
	if v == "" {
		return def
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(v)); err != nil {
		p.fail(name, "%q is not a log level: use debug, info, warn or error", v)
		return def
	}
	return l
}

func (p *parser) integer(name string, def, lo, hi int) int {
	v := p.str(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		p.fail(name, "%q is not a whole number from %d to %d", v, lo, hi)
		return def
	}
	return n
}

func (p *parser) duration(name string, def time.Duration) time.Duration {
	v := p.str(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		p.fail(name, "%q is not a duration such as 5s, 2m or 1h", v)
		return def
	}
	return d
}

func (p *parser) prefix(name, def string) netip.Prefix {
	v := p.str(name, def)
	pfx, err := netip.ParsePrefix(v)
	if err != nil || !pfx.Addr().Is4() {
		p.fail(name, "%q is not an IPv4 CIDR such as %s", v, def)
		return netip.Prefix{}
	}
	if pfx.Masked() != pfx {
		p.fail(name, "%q has host bits set: did you mean %s?", v, pfx.Masked())
	}
	return pfx.Masked()
}

// range6 reads IPALLOC_RANGE6, checked as the allocator checks it.
func (p *parser) range6(name string) netip.Prefix {
	v := p.str(name, DefaultAllocRange6)
	if err := ipalloc.CheckRange6(v); err != nil {
		p.fail(name, "%v", err)
		return netip.Prefix{}
	}
	return netip.MustParsePrefix(v)
}

func (p *parser) addr(name string) netip.Addr {
	v := p.str(name, "")
	if v == "" {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(v)
	if err != nil || a.IsUnspecified() || a.IsMulticast() {
		p.fail(name, "%q is not a unicast IP address of this host", v)
		return netip.Addr{}
	}
	if a.Zone() != "" || a.IsLinkLocalUnicast() {
		p.fail(name, "%q is a link-local address, which the other hosts cannot reach without a zone: give a global or unique local one", v)
		return netip.Addr{}
	}
	return a.Unmap()
}

// serviceAddr reads an IPv4 address that is put on every weavego bridge as a
// /32; unset means def, "" or "off" means none.
func (p *parser) serviceAddr(name, def string) netip.Addr {
	v, ok := p.getenv(name)
	v = strings.TrimSpace(v)
	switch {
	case !ok:
		v = def
	case v == "" || v == "off":
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(v)
	broadcast := netip.AddrFrom4([4]byte{255, 255, 255, 255})
	if err != nil || !a.Is4() || a.IsUnspecified() || a.IsLoopback() || a.IsMulticast() || a == broadcast {
		p.fail(name, "%q is not a unicast IPv4 address such as %s (or off)", v, def)
		return netip.Addr{}
	}
	return a
}

// serviceAddr6 reads an IPv6 service address: off unless set, and then a
// global or unique local unicast address (a link-local one would need a
// zone, which daemon.json's dns cannot carry).
func (p *parser) serviceAddr6(name string) netip.Addr {
	v := strings.TrimSpace(p.str(name, ""))
	if v == "" || v == "off" {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(v)
	if err != nil || !a.Is6() || a.Is4In6() || a.Zone() != "" || !a.IsGlobalUnicast() {
		p.fail(name, "%q is not a global or unique local IPv6 address such as fd53::53 (or off)", v)
		return netip.Addr{}
	}
	return a
}

func (p *parser) list(name string) []string {
	return append([]string(nil), strings.FieldsFunc(p.str(name, ""), func(r rune) bool { return r == ',' || r == ' ' })...)
}

func (p *parser) peers(name string) []string {
	peers := p.list(name)
	for _, peer := range peers {
		if _, _, err := SplitHostPort(peer, DefaultGossipPort); err != nil {
			p.fail(name, "%q is not host or host:port: %v", peer, err)
		}
	}
	return peers
}

func (p *parser) domain(name, def string) string {
	v := strings.Trim(strings.ToLower(p.str(name, def)), ".")
	if v == "" || len(v) > 200 || strings.Contains(v, "..") || strings.ContainsAny(v, " /\\@") {
		p.fail(name, "%q is not a DNS domain such as %s", v, def)
		return def
	}
	return v
}

// SplitHostPort splits "host[:port]" and fills in the default port.
func SplitHostPort(s string, defPort int) (host string, port int, err error) {
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.String(), defPort, nil
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		if s == "" {
			return "", 0, errors.New("empty host")
		}
		return s, defPort, nil
	}
	host = strings.Trim(s[:i], "[]")
	port, err = strconv.Atoi(s[i+1:])
	if err != nil || port < 1 || port > 65535 || host == "" {
		return "", 0, fmt.Errorf("bad port in %q", s)
	}
	return host, port, nil
}
