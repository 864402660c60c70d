package driver

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/docker/go-plugins-helpers/network"

	"github.com/weavego/weavego/datapath"
)

type fakeDP struct {
	mu       sync.Mutex
	networks map[string]datapath.Network
	eps      map[string]bool
	fail     error
	// asyncDeletes counts DeleteEndpointAsync calls.
	asyncDeletes int
}

func newFakeDP() *fakeDP {
	return &fakeDP{networks: map[string]datapath.Network{}, eps: map[string]bool{}}
}

func (f *fakeDP) EnsureNetwork(n datapath.Network) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return 0, f.fail
	}
	f.networks[n.ID] = n
	return 1450, nil
}

func (f *fakeDP) DeleteNetwork(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.networks, id)
	return nil
}

func (f *fakeDP) CreateEndpoint(ep datapath.Endpoint) (string, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return "", "", f.fail
	}
	f.eps[ep.ID] = true
	return "wgv-" + ep.ID, "wgc-" + ep.ID, nil
}

func (f *fakeDP) DeleteEndpoint(_, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.eps, id)
	return nil
}

// DeleteEndpointAsync deletes at once: the fake has no kernel to wait for.
func (f *fakeDP) DeleteEndpointAsync(networkID, id string) {
	f.mu.Lock()
	f.asyncDeletes++
	f.mu.Unlock()
	_ = f.DeleteEndpoint(networkID, id)
}

type memStore struct{ data map[string]map[string][]byte }

func (m *memStore) Put(b, k string, v any) error {
	if m.data[b] == nil {
		m.data[b] = map[string][]byte{}
	}
	m.data[b][k], _ = json.Marshal(v)
	return nil
}
func (m *memStore) Delete(b, k string) error { delete(m.data[b], k); return nil }
func (m *memStore) ForEach(b string, fn func(string, []byte) error) error {
	for k, v := range m.data[b] {
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

type fakeReconciler struct {
	changes []Change
	eps     int
}

func (c *fakeReconciler) AssignVNI(_ netip.Prefix, req uint32, _ map[uint32]string) (uint32, error) {
	if req == 99 {
		return 0, errors.New("VNI 99 is already used by network other")
	}
	if req != 0 {
		return req, nil
	}
	return 42, nil
}
func (c *fakeReconciler) NetworkChanged(_ Network, ch Change) { c.changes = append(c.changes, ch) }
func (c *fakeReconciler) EndpointChanged(Endpoint, bool)      { c.eps++ }

func newTestDriver(t *testing.T) (*Driver, *fakeDP, *memStore) {
	t.Helper()
	dp, st := newFakeDP(), &memStore{data: map[string]map[string][]byte{}}
	d, err := New(Config{VTEP: netip.MustParseAddr("192.0.2.1")},
		dp, st, &fakeReconciler{})
	if err != nil {
		t.Fatal(err)
	}
	return d, dp, st
}

func createReq(id, pool string, generic map[string]interface{}) *network.CreateNetworkRequest {
	return &network.CreateNetworkRequest{
		NetworkID: id,
		Options:   map[string]interface{}{optGeneric: generic},
		IPv4Data:  []*network.IPAMData{{AddressSpace: "weavego-local", Pool: pool, Gateway: strings.Replace(pool, ".0/", ".1/", 1)}},
	}
}

func TestCreateNetwork(t *testing.T) {
	tests := []struct {
		name    string
		req     *network.CreateNetworkRequest
		wantErr string
		wantVNI uint32
		wantMTU int
	}{
		{name: "plain", req: createReq("n1", "10.32.0.0/24", nil), wantVNI: 42},
		{name: "vni and mtu", req: createReq("n1", "10.32.0.0/24", map[string]interface{}{"vni": "7", optMTU: "1400"}), wantVNI: 7, wantMTU: 1400},
		{name: "vni taken", req: createReq("n1", "10.32.0.0/24", map[string]interface{}{"vni": "99"}), wantErr: "already used"},
		{name: "bad vni", req: createReq("n1", "10.32.0.0/24", map[string]interface{}{"vni": "abc"}), wantErr: "not a VXLAN network identifier"},
		{name: "vni too big", req: createReq("n1", "10.32.0.0/24", map[string]interface{}{"vni": "16777216"}), wantErr: "not a VXLAN"},
		{name: "bad mtu", req: createReq("n1", "10.32.0.0/24", map[string]interface{}{optMTU: "12"}), wantErr: "not an MTU"},
		{name: "no id", req: createReq("", "10.32.0.0/24", nil), wantErr: "without a network ID"},
		{name: "bad pool", req: createReq("n1", "banana", nil), wantErr: "not a CIDR"},
		{name: "default ipam", req: &network.CreateNetworkRequest{NetworkID: "n1",
			IPv4Data: []*network.IPAMData{{AddressSpace: "LocalDefault", Pool: "172.18.0.0/16"}}}, wantErr: "--ipam-driver weavego:latest"},
		{name: "ipv6 without a pool", req: ipv6Req("n1", ""), wantErr: "exactly one IPv6 subnet"},
		{name: "ipv6 link-local", req: ipv6Req("n1", "fe80::/64"), wantErr: "link-local"},
		{name: "ipv6 pool of another ipam", req: func() *network.CreateNetworkRequest {
			r := ipv6Req("n1", "fd00:1::/64")
			r.IPv6Data[0].AddressSpace = "LocalDefault"
			return r
		}(), wantErr: "--ipam-driver weavego:latest"},
		{name: "no pool", req: &network.CreateNetworkRequest{NetworkID: "n1"}, wantErr: "exactly one IPv4 subnet"},
		{name: "ipv4=false without ipv6", req: func() *network.CreateNetworkRequest {
			r := ipv6OnlyReq("n1", "fd00:1::/64")
			r.IPv6Data, r.Options[optIPv6] = nil, false
			return r
		}(), wantErr: "needs --ipv6 as well"},
		{name: "ipv4=false with an ipv4 pool", req: func() *network.CreateNetworkRequest {
			r := ipv6Req("n1", "fd00:1::/64")
			r.Options[optIPv4] = false
			return r
		}(), wantErr: "give no IPv4 --subnet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, dp, _ := newTestDriver(t)
			err := d.CreateNetwork(tt.req)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				if len(dp.networks) != 0 {
					t.Fatalf("kernel network left behind after error: %v", dp.networks)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			kn := dp.networks["n1"]
			if kn.VNI != tt.wantVNI || kn.MTU != tt.wantMTU || kn.Gateway.String() != "10.32.0.1" || kn.VTEP.String() != "192.0.2.1" {
				t.Fatalf("kernel network = %+v", kn)
			}
		})
	}
}

func TestNetworkLifecycle(t *testing.T) {
	d, dp, st := newTestDriver(t)
	if err := d.CreateNetwork(createReq("n1", "10.32.0.0/24", nil)); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateNetwork(createReq("n2", "10.32.0.0/16", nil)); err == nil || !strings.Contains(err.Error(), "overlaps") {
		t.Fatalf("overlap: err = %v", err)
	}
	resp, err := d.CreateEndpoint(&network.CreateEndpointRequest{NetworkID: "n1", EndpointID: "e1",
		Interface: &network.EndpointInterface{Address: "10.32.0.5/24"}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Interface == nil || resp.Interface.MacAddress != "02:77:0a:20:00:05" {
		t.Fatalf("MAC not filled in: %+v", resp.Interface)
	}
	if _, err := d.CreateEndpoint(&network.CreateEndpointRequest{NetworkID: "n1", EndpointID: "e2",
		Interface: &network.EndpointInterface{Address: "10.99.0.5/24"}}); err == nil {
		t.Fatal("address outside the subnet accepted")
	}
	join, err := d.Join(&network.JoinRequest{NetworkID: "n1", EndpointID: "e1", SandboxKey: "/var/run/docker/netns/x"})
	if err != nil {
		t.Fatal(err)
	}
	if join.InterfaceName.SrcName != "wgc-e1" || join.InterfaceName.DstPrefix != "eth" || join.Gateway != "" {
		t.Fatalf("join = %+v", join)
	}
	if err := d.DeleteNetwork(&network.DeleteNetworkRequest{NetworkID: "n1"}); err == nil {
		t.Fatal("network with an endpoint deleted")
	}

	// A restarted driver knows the network and the endpoint.
	d2, err := New(d.cfg, dp, st, &fakeReconciler{})
	if err != nil {
		t.Fatal(err)
	}
	if known, err := d2.Restore(); err != nil || len(known) != 1 {
		t.Fatalf("restore: %v %v", known, err)
	}
	if err := d2.Leave(&network.LeaveRequest{NetworkID: "n1", EndpointID: "e1"}); err != nil {
		t.Fatal(err)
	}
	if err := d2.DeleteEndpoint(&network.DeleteEndpointRequest{NetworkID: "n1", EndpointID: "e1"}); err != nil {
		t.Fatal(err)
	}
	if dp.asyncDeletes != 1 {
		t.Fatalf("DeleteEndpoint made %d background deletes, want 1: Docker need not wait for the kernel", dp.asyncDeletes)
	}
	if err := d2.DeleteNetwork(&network.DeleteNetworkRequest{NetworkID: "n1"}); err != nil {
		t.Fatal(err)
	}
	if len(dp.networks) != 0 || len(dp.eps) != 0 {
		t.Fatalf("kernel state left: %v %v", dp.networks, dp.eps)
	}
}

func TestUnknownIDs(t *testing.T) {
	d, _, _ := newTestDriver(t)
	for name, err := range map[string]error{
		"delete network":  d.DeleteNetwork(&network.DeleteNetworkRequest{NetworkID: "nope"}),
		"delete endpoint": d.DeleteEndpoint(&network.DeleteEndpointRequest{NetworkID: "nope", EndpointID: "e"}),
		"leave":           d.Leave(&network.LeaveRequest{NetworkID: "nope", EndpointID: "e"}),
	} {
		if err == nil || !strings.Contains(err.Error(), "weavego has no") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if _, err := d.Join(&network.JoinRequest{NetworkID: "n", EndpointID: "e"}); err == nil {
		t.Error("join of unknown endpoint accepted")
	}
	if _, err := d.CreateEndpoint(&network.CreateEndpointRequest{NetworkID: "n", EndpointID: "e",
		Interface: &network.EndpointInterface{Address: "10.0.0.1/24"}}); err == nil {
		t.Error("endpoint on unknown network accepted")
	}
	if _, err := d.CreateEndpoint(&network.CreateEndpointRequest{NetworkID: "n", EndpointID: "e"}); err == nil {
		t.Error("endpoint without interface accepted")
	}
}

func TestDatapathFailureLeavesNothing(t *testing.T) {
	d, dp, st := newTestDriver(t)
	dp.fail = errors.New("boom")
	if err := d.CreateNetwork(createReq("n1", "10.32.0.0/24", nil)); err == nil {
		t.Fatal("no error")
	}
	if len(st.data[bucketNetworks]) != 0 || len(d.Networks()) != 0 {
		t.Fatal("record kept after failure")
	}
}

// ipv6Req is a --ipv6 network 10.32.0.0/24 with IPv6 pool pool6 ("" for none).
func ipv6Req(id, pool6 string) *network.CreateNetworkRequest {
	r := createReq(id, "10.32.0.0/24", nil)
	r.Options[optIPv6] = true
	if pool6 != "" {
		gw := netip.MustParsePrefix(pool6).Addr().Next()
		r.IPv6Data = []*network.IPAMData{{AddressSpace: "weavego-local", Pool: pool6,
			Gateway: netip.PrefixFrom(gw, netip.MustParsePrefix(pool6).Bits()).String()}}
	}
	return r
}

// ipv6OnlyReq is what Docker 28+ sends for --ipv6 --ipv4=false: no IPv4 pool.
func ipv6OnlyReq(id, pool6 string) *network.CreateNetworkRequest {
	r := ipv6Req(id, pool6)
	r.IPv4Data, r.Options[optIPv4] = nil, false
	return r
}

// TestIPv6OnlyNetwork: a network with --ipv4=false has a bridge with only
// its IPv6 gateway, endpoints with only an IPv6 address (and a MAC made from
// it), beside another IPv6-only network.
func TestIPv6OnlyNetwork(t *testing.T) {
	d, dp, _ := newTestDriver(t)
	for i, pool := range []string{"fd00:1::/64", "fd00:2::/64"} {
		id := fmt.Sprintf("n%d", i+1)
		if err := d.CreateNetwork(ipv6OnlyReq(id, pool)); err != nil {
			t.Fatal(err)
		}
		if kn := dp.networks[id]; kn.Subnet.IsValid() || kn.Gateway.IsValid() || kn.Subnet6.String() != pool {
			t.Fatalf("kernel network %s = %+v, want only IPv6", id, kn)
		}
	}
	ep := func(id, v4, v6 string) (*network.CreateEndpointResponse, error) {
		return d.CreateEndpoint(&network.CreateEndpointRequest{NetworkID: "n1", EndpointID: id,
			Interface: &network.EndpointInterface{Address: v4, AddressIPv6: v6}})
	}
	if _, err := ep("e0", "10.32.0.5/24", "fd00:1::5/64"); err == nil || !strings.Contains(err.Error(), "is IPv6-only") {
		t.Errorf("IPv4 address on an IPv6-only network: err = %v", err)
	}
	if _, err := ep("e0", "", ""); err == nil || !strings.Contains(err.Error(), "no IPv6 address") {
		t.Errorf("no address on an IPv6-only network: err = %v", err)
	}
	resp, err := ep("e1", "", "fd00:1::a:5/64")
	if err != nil {
		t.Fatal(err)
	}
	if resp.Interface == nil || resp.Interface.MacAddress != "02:77:00:0a:00:05" {
		t.Errorf("endpoint interface %+v, want MAC 02:77:00:0a:00:05", resp.Interface)
	}
	if e := d.endpoints["e1"]; e.Addr.IsValid() || e.Addr6.String() != "fd00:1::a:5/64" {
		t.Errorf("endpoint record %+v", e)
	}
}

func TestIPv6Network(t *testing.T) {
	d, dp, st := newTestDriver(t)
	if err := d.CreateNetwork(ipv6Req("n1", "fd00:1::/64")); err != nil {
		t.Fatal(err)
	}
	kn := dp.networks["n1"]
	if kn.Subnet6.String() != "fd00:1::/64" || kn.Gateway6.String() != "fd00:1::1" {
		t.Fatalf("kernel network = %+v, want IPv6 subnet and gateway", kn)
	}
	if err := d.CreateNetwork(createReq("n2", "10.33.0.0/24", nil)); err != nil {
		t.Fatalf("IPv4-only network beside it: %v", err)
	}
	r3 := ipv6Req("n3", "fd00:1::/48")
	r3.IPv4Data[0].Pool, r3.IPv4Data[0].Gateway = "10.34.0.0/24", "10.34.0.1/24"
	if err := d.CreateNetwork(r3); err == nil || !strings.Contains(err.Error(), "IPv6 subnet fd00:1::/48 overlaps") {
		t.Fatalf("overlapping IPv6 subnet: err = %v", err)
	}
	ep := func(id, v4, v6 string) error {
		_, err := d.CreateEndpoint(&network.CreateEndpointRequest{NetworkID: "n1", EndpointID: id,
			Interface: &network.EndpointInterface{Address: v4, AddressIPv6: v6}})
		return err
	}
	for _, tc := range []struct{ id, v6, want string }{
		{"e0", "", "no IPv6 address"},
		{"e0", "fd00:2::5/64", "outside subnet"},
		{"e0", "10.32.0.9/24", "not an IPv6 address"},
		{"e0", "fe80::5/64", "link-local"},
	} {
		if err := ep(tc.id, "10.32.0.5/24", tc.v6); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("endpoint with IPv6 %q: err = %v, want %q", tc.v6, err, tc.want)
		}
	}
	if err := ep("e1", "10.32.0.5/24", "fd00:1::5/64"); err != nil {
		t.Fatal(err)
	}
	if err := ep("e1", "10.32.0.5/24", "fd00:1::5/64"); err != nil {
		t.Fatalf("same endpoint again: %v", err)
	}
	if _, err := d.CreateEndpoint(&network.CreateEndpointRequest{NetworkID: "n2", EndpointID: "e2",
		Interface: &network.EndpointInterface{Address: "10.33.0.5/24", AddressIPv6: "fd00:1::6/64"}}); err == nil ||
		!strings.Contains(err.Error(), "create the network with --ipv6") {
		t.Fatalf("IPv6 address on an IPv4-only network: err = %v", err)
	}
	d2, err := New(d.cfg, dp, st, &fakeReconciler{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d2.Restore(); err != nil {
		t.Fatal(err)
	}
	if got := d2.endpoints["e1"].Addr6.String(); got != "fd00:1::5/64" || d2.networks["n1"].Gateway6.String() != "fd00:1::1" {
		t.Fatalf("restored endpoint IPv6 %s, network %+v", got, d2.networks["n1"])
	}
	if b := string(st.data[bucketNetworks]["n2"]); strings.Contains(b, "Subnet6") {
		t.Fatalf("an IPv4-only network's record names IPv6: %s", b)
	}
}

// createOne creates network n1 (10.32.0.0/24, options generic) on a new driver of cfg changed by change (nil:
// none). With wantErr it checks that the creation is refused with it and reaches no kernel, and returns false;
// else it fails on any error and returns the driver and its kernel.
func createOne(t *testing.T, cfg Config, change func(*Config), generic map[string]interface{},
	wantErr string) (*Driver, *fakeDP, bool) {
	t.Helper()
	if change != nil {
		change(&cfg)
	}
	dp, st := newFakeDP(), &memStore{data: map[string]map[string][]byte{}}
	d, err := New(cfg, dp, st, &fakeReconciler{})
	if err != nil {
		t.Fatal(err)
	}
	err = d.CreateNetwork(createReq("n1", "10.32.0.0/24", generic))
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("err = %v, want %q", err, wantErr)
		}
		if len(dp.networks) != 0 {
			t.Fatal("a refused network reached the kernel")
		}
		return d, dp, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return d, dp, true
}
