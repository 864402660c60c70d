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
	rc.list = []string{}
	for _, p := range rc.paths {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		list := serversFrom(f)
		f.Close()
		if len(list) > 0 {
			rc.list = list
			break
		}
	}
	return rc.list
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
// host:port, skipping loopback and unspecified addresses: in the host
// namespace 127.0.0.11 is nobody, and any loopback resolver may be one that
// forwards back to us.
func serversFrom(r io.Reader) []string {
	cc, err := dns.ClientConfigFromReader(r)
	if err != nil {
		return nil
	}
	port, err := strconv.ParseUint(cc.Port, 10, 16)
	if err != nil || port == 0 {
		port = DefaultPort
	}
	var list []string
	for _, s := range cc.Servers {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Unmap().IsLoopback() || a.IsUnspecified() {
			continue
		}
		list = append(list, netip.AddrPortFrom(a, uint16(port)).String())
	}
	return list
}
