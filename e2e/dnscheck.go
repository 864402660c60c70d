//go:build linux

package e2e

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// The outside name the tests' upstream DNS servers answer, and where the upstream of TestDNS listens.
const (
	upstreamPort = 5353
	OutsideName  = "outside.example."
	// slowZone is a zone the upstream never answers for.
	slowZone    = "slow.example."
	outsideAddr = "192.0.2.55"
	// DNSServiceAddr is the plugin's default DNS_ADDR: every weavego network's own dnsd at one address.
	DNSServiceAddr = "169.254.53.53"
)

// inNetns runs f on an OS thread switched into the network namespace at path. Sockets f opens stay in that
// namespace after the thread switches back. A thread that cannot switch back is never reused.
func inNetns(path string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		target, err := os.Open(path)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %w", path, err)
			return
		}
		ferr := f()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("setns back: %w", err)) // the locked thread exits with us
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// startUpstreamDNS serves outsideName from UnderlayGateway:upstreamPort in the underlay namespace, in this
// process, and counts the queries it gets. Other names get NXDOMAIN, other types of outsideName no data.
func startUpstreamDNS(t *testing.T, c *Cluster) *atomic.Int64 {
	t.Helper()
	return ServeOutsideNameIn(t, NetnsDir+"/"+c.UnderlayNS, fmt.Sprintf("%s:%d", UnderlayGateway, upstreamPort))
}

// upstreamDNSEnv is the plugin setting that points dnsd at the server startUpstreamDNS starts.
func upstreamDNSEnv() map[string]string {
	return map[string]string{"DNS_UPSTREAM": fmt.Sprintf("%s:%d", UnderlayGateway, upstreamPort)}
}

// dnsClient queries a DNS server from inside a container's network namespace, over one UDP socket: dnsd
// answers only containers on its networks.
type dnsClient struct{ conn *dns.Conn }

// newDNSClient opens a client in the network namespace of container ctr on h.
func newDNSClient(t *testing.T, h *Host, ctr, server string) *dnsClient {
	t.Helper()
	sandbox, err := h.Docker("inspect", "--format", "{{.NetworkSettings.SandboxKey}}", ctr)
	if err != nil {
		t.Fatal(err)
	}
	var conn net.Conn
	if err := inNetns(strings.TrimSpace(sandbox), func() (err error) {
		conn, err = net.Dial("udp", net.JoinHostPort(server, "53"))
		return err
	}); err != nil {
		t.Fatalf("DNS client in container %s on %s: %v", ctr, h.Name, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &dnsClient{conn: &dns.Conn{Conn: conn}}
}

// A returns the A records of name.
func (c *dnsClient) A(name string) ([]string, error) {
	r, err := c.Query(name, dns.TypeA)
	if err != nil {
		return nil, err
	}
	var ips []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			ips = append(ips, a.A.String())
		}
	}
	slices.Sort(ips)
	return ips, nil
}

// Query asks for the records of type qtype of name and returns the whole reply.
func (c *dnsClient) Query(name string, qtype uint16) (*dns.Msg, error) {
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	_ = c.conn.SetDeadline(time.Now().Add(2 * time.Second))
	if err := c.conn.WriteMsg(q); err != nil {
		return nil, err
	}
	for {
		r, err := c.conn.ReadMsg()
		if err != nil {
			return nil, fmt.Errorf("query %s: %w", name, err)
		}
		if r.Id == q.Id { // else a late answer to an earlier query
			return r, nil
		}
	}
}

// nslookup runs busybox nslookup in container ctr, with the container's own resolver, and returns the addresses it
// prints after the name.
func nslookup(h *Host, ctr, name string) ([]string, error) { return nslookupAt(h, ctr, name, "") }

// nslookupAt runs busybox nslookup name [server] in ctr and returns the addresses of the answer; an answer with
// no address (NXDOMAIN) is not an error.
func nslookupAt(h *Host, ctr, name, server string) ([]string, error) {
	cmd := []string{"nslookup", name}
	if server != "" {
		cmd = append(cmd, server)
	}
	out, err := execIn(h, ctr, cmd...)
	if err != nil && !strings.Contains(out+err.Error(), "NXDOMAIN") && !strings.Contains(out+err.Error(), "can't find") {
		return nil, fmt.Errorf("nslookup %s %s in %s on %s: %w", name, server, ctr, h.Name, err)
	}
	var ips []string
	answers := false
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "Name:" {
			answers = true
		}
		if answers && len(f) == 2 && f[0] == "Address:" && net.ParseIP(f[1]).To4() != nil {
			ips = append(ips, f[1])
		}
	}
	slices.Sort(ips)
	return ips, nil
}

// ServeOutsideNameIn serves outsideName over UDP at addr in the network namespace at nsPath, in this process,
// and counts the queries it gets. Names under slowZone get no answer at all (a zone whose servers are down);
// other names get NXDOMAIN.
func ServeOutsideNameIn(t *testing.T, nsPath, addr string) *atomic.Int64 {
	t.Helper()
	var pc net.PacketConn
	if err := inNetns(nsPath, func() (err error) {
		pc, err = net.ListenPacket("udp", addr)
		return err
	}); err != nil {
		t.Fatalf("DNS server at %s in %s: %v", addr, nsPath, err)
	}
	var queries atomic.Int64
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		queries.Add(1)
		if len(r.Question) == 1 && dns.IsSubDomain(slowZone, dns.CanonicalName(r.Question[0].Name)) {
			return
		}
		m := new(dns.Msg)
		m.SetReply(r)
		switch {
		case len(r.Question) != 1 || !strings.EqualFold(r.Question[0].Name, OutsideName):
			m.Rcode = dns.RcodeNameError
		case r.Question[0].Qtype == dns.TypeA:
			rr, _ := dns.NewRR(OutsideName + " 30 IN A " + outsideAddr)
			m.Answer = append(m.Answer, rr)
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return &queries
}
