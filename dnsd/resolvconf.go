package dnsd

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// resolvRecheck is how often resolv.conf files are stat'ed for changes.
const resolvRecheck = 5 * time.Second

// resolvConf caches the usable nameservers of the first resolv.conf file
// among paths that has any, re-reading the files when they change.
type resolvConf struct {
	paths []string

	mu      sync.Mutex // guards list, checked and stamp
	list    []string   // host:port; replaced, never modified in place
	checked time.Time  // last time the files were stat'ed
	stamp   string     // size and mtime of every path at the last read
}

func newResolvConf(paths []string) *resolvConf {
	return &resolvConf{paths: paths}
}

// servers returns the current upstreams; callers must not modify the slice.
func (rc *resolvConf) servers() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	now := time.Now()
	if !rc.checked.IsZero() && now.Sub(rc.checked) < resolvRecheck {
		return rc.list
	}
	rc.checked = now
	stamp := rc.fileStamp()
	if stamp == rc.stamp && rc.list != nil {
		return rc.list
	}
	rc.stamp = stamp
	rc.list = rc.read()
	return rc.list
}

// read picks the upstreams: the routable nameservers of the first file that
// has any; failing that, the loopback nameservers of the first file that has
// any. The second case is a host whose resolver is systemd-resolved
// (nameserver 127.0.0.53) and whose real upstream list is not readable here:
// the plugin runs in the host's network namespace, so the host's loopback
// resolver is reachable from it and is the host's own choice of resolver.
func (rc *resolvConf) read() []string {
	var fallback []string
	for _, p := range rc.paths {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		list, loop := serversFrom(f)
		f.Close()
		if len(list) > 0 {
			return list
		}
		if fallback == nil && len(loop) > 0 {
			fallback = loop
		}
	}
	if fallback == nil {
		fallback = []string{}
	}
	return fallback
}

func (rc *resolvConf) fileStamp() string {
	var s string
	for _, p := range rc.paths {
		if fi, err := os.Stat(p); err == nil {
			s += fmt.Sprintf("%s:%d:%d;", p, fi.Size(), fi.ModTime().UnixNano())
		}
	}
	return s
}

// serversFrom parses resolv.conf text and returns its nameservers as
// host:port: routable ones in list, loopback ones in loop. Loopback servers
// are only a fallback (see read): a routable one is preferred because a
// loopback resolver may be one that forwards back to us. 127.0.0.11, Docker's
// embedded resolver, is dropped: it exists only inside containers, and in the
// host namespace nobody answers there. Unspecified addresses are dropped.
func serversFrom(r io.Reader) (list, loop []string) {
	cc, err := dns.ClientConfigFromReader(r)
	if err != nil {
		return nil, nil
	}
	port, err := strconv.ParseUint(cc.Port, 10, 16)
	if err != nil || port == 0 {
		port = DefaultPort
	}
	for _, s := range cc.Servers {
		a, err := netip.ParseAddr(s)
		if err != nil || a.IsUnspecified() || a.Unmap() == dockerEmbeddedDNS {
			continue
		}
		hp := netip.AddrPortFrom(a, uint16(port)).String()
		if a.Unmap().IsLoopback() {
			loop = append(loop, hp)
			continue
		}
		list = append(list, hp)
	}
	return list, loop
}

// dockerEmbeddedDNS is the resolver Docker runs inside containers only.
var dockerEmbeddedDNS = netip.AddrFrom4([4]byte{127, 0, 0, 11})
