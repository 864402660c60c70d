package driver

import (
	"bytes"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
)

func TestUnknownOptionsRefused(t *testing.T) {
	tests := []struct {
		name    string
		generic map[string]interface{}
		wantErr string // "" = created
	}{
		{"bogus", map[string]interface{}{"bogus": "1"}, `weavego does not know the option "bogus" of docker network ` +
			`create (known: vni, com.docker.network.driver.mtu, encrypted, direct, com.docker.network.container_iface_prefix); remove -o bogus`},
		{"two", map[string]interface{}{"other": "true", "bogus": "1", "vni": "7"}, `weavego does not know the ` +
			`options "bogus", "other" of docker network create (known: vni, com.docker.network.driver.mtu, ` +
			`encrypted, direct, com.docker.network.container_iface_prefix); remove -o bogus -o other`},
		{"null value", map[string]interface{}{"bogus": nil}, `the option "bogus"`},
		{"encrypted", map[string]interface{}{"encrypted": ""}, ""},
		{"encrypted=false", map[string]interface{}{"encrypted": "false"}, ""},
		{"encrypted=maybe", map[string]interface{}{"encrypted": "maybe"}, `option encrypted="maybe" is not true or false`},
		{"known", map[string]interface{}{"vni": "7", optMTU: "1400"}, ""},
		{"docker's own", map[string]interface{}{"com.docker.network.some.future.option": "x"}, ""},
		{"bridge's", map[string]interface{}{"com.docker.network.bridge.name": "br9"}, `the option "com.docker.network.bridge.name"`},
		{"bridge's SNAT", map[string]interface{}{"com.docker.network.host_ipv4": "192.0.2.1"}, `-o com.docker.network.host_ipv4`},
		{"overlay's", map[string]interface{}{"com.docker.network.driver.overlay.vxlanid_list": "7"}, `the option "com.docker.network.driver.overlay.vxlanid_list"`},
		{"iface prefix", map[string]interface{}{OptIfacePrefix: "data"}, ""},
		{"iface prefix too long", map[string]interface{}{OptIfacePrefix: "abcdefghijklmn"}, `interface prefix "abcdefghijklmn"`},
		{"replica", map[string]interface{}{OptReplica: "h1", "vni": "7", "encrypted": ""}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, dp, st := newTestDriver(t)
			err := d.CreateNetwork(createReq("n1", "10.32.0.0/24", tt.generic))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v\nwant it to contain %s", err, tt.wantErr)
			}
			if len(dp.networks) != 0 || len(st.data[bucketNetworks]) != 0 || len(d.Networks()) != 0 {
				t.Fatal("a refused network left a kernel network or a record")
			}
		})
	}
}

// A network recorded with an unknown option by a weavego that did not refuse
// them keeps working: Docker's replay of CreateNetwork is accepted, and the
// log says at the replay and at every restore what the option does not do.
func TestUnknownOptionsOfExistingNetwork(t *testing.T) {
	var logs bytes.Buffer
	dp, st := newFakeDP(), &memStore{data: map[string]map[string][]byte{}}
	old := Network{ID: "0123456789abcdef", Subnet: netip.MustParsePrefix("10.32.0.0/24"),
		Gateway: netip.MustParseAddr("10.32.0.1"), VNI: 42, Options: map[string]string{"bogus": ""}}
	if err := st.Put(bucketNetworks, old.ID, old); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	d, err := New(cfg, dp, st, &fakeReconciler{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Restore(); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateNetwork(createReq(old.ID, "10.32.0.0/24", map[string]interface{}{"bogus": ""})); err != nil {
		t.Fatalf("Docker's replay of an existing network: %v", err)
	}
	want := "network 0123456789ab was created with -o bogus, which weavego does not know: they have no effect; " +
		"re-create it: stop its containers, `docker network rm 0123456789ab`, then `docker network create` it " +
		"again without -o bogus"
	if n := strings.Count(logs.String(), want); n != 2 {
		t.Errorf("the warning is logged %d times, want 2 (restore and replay); log:\n%s", n, logs.String())
	}
	if _, ok := dp.networks[old.ID]; !ok {
		t.Error("the existing network was not restored to the kernel")
	}
}
