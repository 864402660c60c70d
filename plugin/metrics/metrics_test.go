package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/weavego/weavego/datapath"
	"github.com/weavego/weavego/dnsd"
	"github.com/weavego/weavego/ipalloc"
	"github.com/weavego/weavego/mesh"
)

type fakeMesh struct{}

func (fakeMesh) Stats() mesh.Stats {
	return mesh.Stats{BroadcastsSent: 7, BytesReceived: 1200, MergesApplied: 3, MergesIgnored: 1, Tombstones: 2}
}
func (fakeMesh) Peers() []mesh.Peer {
	return []mesh.Peer{{Name: "a", State: mesh.StateAlive}, {Name: "b", State: mesh.StateAlive}, {Name: "c", State: mesh.StateDead}}
}
func (fakeMesh) KindCounts() map[string]int { return map[string]int{"endpoint": 4, "network": 1} }
func (fakeMesh) Rejected() []mesh.Rejection {
	return []mesh.Rejection{{Owner: "x", Kind: "endpoint", Count: 2}, {Owner: "y", Kind: "endpoint", Count: 1}}
}

type fakeIPAM struct{}

func (fakeIPAM) Status() ipalloc.Status {
	return ipalloc.Status{Host: "a", Pools: []ipalloc.PoolStatus{{ID: "10.32.0.0/24", Hosts: []ipalloc.HostShare{
		{Host: "a", Owned: 100, Used: 10, Free: 90}, {Host: "b", Owned: 153, Used: 3, Free: 150}}}},
		Problems: []string{"range mismatch"}}
}

type fakeDNS struct{}

func (fakeDNS) Stats() dnsd.Stats { return dnsd.Stats{Forwarded: 5, UpstreamErrors: 2} }

type fakeDatapath struct{ err error }

func (fakeDatapath) RemoteCounts() (int, int) { return 6, 4 }
func (f fakeDatapath) FirewallCounters() (map[string]uint64, error) {
	return map[string]uint64{datapath.CounterFromContainer: 9, datapath.CounterVXLANNonMember: 1}, f.err
}

func newTestMetrics() *Metrics {
	return New(Sources{Version: "test", Mesh: fakeMesh{}, IPAM: fakeIPAM{}, DNS: fakeDNS{}, Datapath: fakeDatapath{},
		WireGuard: fakeWireGuard{}})
}

type fakeWireGuard struct{}

func (fakeWireGuard) WireGuardPeers() []WireGuardPeer {
	return []WireGuardPeer{{Name: "h2", Up: true, LastHandshake: time.Now().Add(-time.Minute), ReceivedBytes: 1000,
		SentBytes: 2000}, {Name: "h3"}}
}

func TestCollectorValues(t *testing.T) {
	m := newTestMetrics()
	tests := []struct {
		name, text string
	}{
		{"weavego_peers", `
# HELP weavego_peers Peers of the mesh as this host sees them, this host included, by state.
# TYPE weavego_peers gauge
weavego_peers{state="alive"} 2
weavego_peers{state="dead"} 1
weavego_peers{state="left"} 0
weavego_peers{state="suspect"} 0
`},
		{"weavego_rejected_entries_total", `
# HELP weavego_rejected_entries_total Records of other hosts refused by admission (weavego status lists them per owner), by kind.
# TYPE weavego_rejected_entries_total counter
weavego_rejected_entries_total{kind="endpoint"} 3
`},
		{"weavego_ipam_pool_size_addresses", `
# HELP weavego_ipam_pool_size_addresses Addresses of the pool held by all hosts (reserved ones excluded).
# TYPE weavego_ipam_pool_size_addresses gauge
weavego_ipam_pool_size_addresses{pool="10.32.0.0/24"} 253
`},
		{"weavego_wireguard_peer_up", `
# HELP weavego_wireguard_peer_up 1 when the encrypted path to the peer has a fresh WireGuard handshake; 0 when it has none (frames of encrypted networks to it are dropped; weavego status says why).
# TYPE weavego_wireguard_peer_up gauge
weavego_wireguard_peer_up{peer="h2"} 1
weavego_wireguard_peer_up{peer="h3"} 0
`},
		{"weavego_wireguard_sent_bytes_total", `
# HELP weavego_wireguard_sent_bytes_total Bytes sent to the peer through WireGuard.
# TYPE weavego_wireguard_sent_bytes_total counter
weavego_wireguard_sent_bytes_total{peer="h2"} 2000
weavego_wireguard_sent_bytes_total{peer="h3"} 0
`},
		{"weavego_datapath_fdb_entries", `
# HELP weavego_datapath_fdb_entries FDB entries kept on the VXLAN devices (remote MACs and flood VTEPs).
# TYPE weavego_datapath_fdb_entries gauge
weavego_datapath_fdb_entries 6
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(tt.text), tt.name); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestLint: every metric, wrappers' included once used, passes the
// Prometheus naming and help checks promtool applies.
func TestLint(t *testing.T) {
	m := newTestMetrics()
	m.ObserveReply(dns.RcodeNameError, true, time.Millisecond)
	_ = m.Kernel(fakeKernel{err: errors.New("boom")}).SetRemotes("n1", nil, nil)
	_, _ = m.Allocator(fakeAlloc{}).RequestAddress(context.Background(), ipalloc.AddressRequest{PoolID: "p1"})
	m.Instrument(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/NetworkDriver.Join", nil))
	problems, err := testutil.GatherAndLint(m.Registry)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "weavego_") {
			t.Errorf("metric %s is not named weavego_*", mf.GetName())
		}
	}
	for name, want := range map[string]float64{
		"weavego_datapath_reconcile_errors_total": 1,
		"weavego_dns_replies_total":               1,
		"weavego_ipam_failures_total":             1,
		"weavego_plugin_requests_total":           1,
	} {
		if got := testutil.CollectAndCount(m.Registry, name); float64(got) != want {
			t.Errorf("%s: %d series, want %v", name, got, want)
		}
	}
}

func TestEndpointLabel(t *testing.T) {
	tests := []struct{ path, want string }{
		{"/NetworkDriver.Join", "NetworkDriver.Join"},
		{"/IpamDriver.RequestAddress", "IpamDriver.RequestAddress"},
		{"/Plugin.Activate", "Plugin.Activate"},
		{"/NetworkDriver.", "other"},
		{"/NetworkDriver.Join/../x", "other"},
		{"/random", "other"},
		{"/IpamDriver." + strings.Repeat("A", 41), "other"},
	}
	for _, tt := range tests {
		if got := endpointLabel(tt.path); got != tt.want {
			t.Errorf("endpointLabel(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}

func TestFailureReason(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("pool 10.1.0.0/24: %w", ipalloc.ErrPoolExhausted), "exhausted"},
		{ipalloc.ErrAddressInUse, "in_use"},
		{context.DeadlineExceeded, "timeout"},
		{errors.New("x"), "other"},
	}
	for _, tt := range tests {
		if got := failureReason(tt.err); got != tt.want {
			t.Errorf("failureReason(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

// TestServe scrapes a served registry over loopback.
func TestServe(t *testing.T) {
	m := newTestMetrics()
	l, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx, l, discardLogger()) }()
	resp, err := http.Get("http://" + l.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body := new(strings.Builder)
	_, _ = fmt.Fprint(body, readAll(t, resp))
	if resp.StatusCode != 200 || !strings.Contains(body.String(), `weavego_build_info{version="test"} 1`) {
		t.Errorf("GET /metrics: %d\n%s", resp.StatusCode, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
}

type fakeKernel struct{ err error }

func (f fakeKernel) SetRemotes(string, []datapath.Remote, []netip.Addr) error { return f.err }
func (f fakeKernel) SetVXLANPeers([]netip.Addr) error                         { return nil }
func (f fakeKernel) DirectMAC(string) net.HardwareAddr                        { return nil }
func (f fakeKernel) DirectPaths(string) map[netip.Addr]string                 { return nil }

type fakeAlloc struct{}

func (fakeAlloc) RequestPool(context.Context, ipalloc.PoolRequest) (ipalloc.Pool, error) {
	return ipalloc.Pool{}, nil
}
func (fakeAlloc) ReleasePool(context.Context, string) error { return nil }
func (fakeAlloc) RequestAddress(context.Context, ipalloc.AddressRequest) (netip.Prefix, error) {
	return netip.Prefix{}, ipalloc.ErrPoolExhausted
}
func (fakeAlloc) ReleaseAddress(context.Context, string, netip.Addr) error { return nil }
