package driver

import (
	"strings"
	"testing"

	"github.com/docker/go-plugins-helpers/network"
)

// TestJoinAnswersIfname checks that the name asked for at CreateEndpoint is the DstName of Join, that an
// endpoint without one keeps Docker's eth<N>, and that names the kernel would refuse are refused at once.
func TestJoinAnswersIfname(t *testing.T) {
	tests := []struct {
		name    string
		opts    map[string]any
		dstName string
		errHas  string
	}{
		{name: "none", opts: nil},
		{name: "empty", opts: map[string]any{OptIfname: ""}},
		{name: "asked", opts: map[string]any{OptIfname: "data0"}, dstName: "data0"},
		{name: "fifteen", opts: map[string]any{OptIfname: "abcdefghijklmno"}, dstName: "abcdefghijklmno"},
		{name: "too long", opts: map[string]any{OptIfname: "abcdefghijklmnop"}, errHas: "longer than 15"},
		{name: "slash", opts: map[string]any{OptIfname: "a/b"}, errHas: "character"},
		{name: "space", opts: map[string]any{OptIfname: "a b"}, errHas: "character"},
		{name: "colon", opts: map[string]any{OptIfname: "eth0:1"}, errHas: "character"},
		{name: "dot", opts: map[string]any{OptIfname: ".."}, errHas: "kernel"},
		{name: "not a string", opts: map[string]any{OptIfname: 7.0}, errHas: "must be a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newJoinDriver(t, "", nil)
			_, err := d.CreateEndpoint(&network.CreateEndpointRequest{NetworkID: "n2", EndpointID: "x",
				Interface: &network.EndpointInterface{Address: "10.32.1.9/24"}, Options: tt.opts})
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) || !strings.Contains(err.Error(), OptIfname) {
					t.Fatalf("CreateEndpoint: err = %v, want a sentence naming %s with %q", err, OptIfname, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatalf("CreateEndpoint: %v", err)
			}
			resp, err := d.Join(&network.JoinRequest{NetworkID: "n2", EndpointID: "x", SandboxKey: "/s"})
			if err != nil {
				t.Fatalf("Join: %v", err)
			}
			if resp.InterfaceName.DstName != tt.dstName || resp.InterfaceName.DstPrefix != "eth" || resp.InterfaceName.SrcName == "" {
				t.Errorf("InterfaceName %+v, want DstName %q, DstPrefix eth and a SrcName", resp.InterfaceName, tt.dstName)
			}
		})
	}
}

// TestJoinAnswersIfacePrefix checks that -o com.docker.network.container_iface_prefix is Join's DstPrefix.
func TestJoinAnswersIfacePrefix(t *testing.T) {
	d, _, _ := newTestDriver(t)
	if err := d.CreateNetwork(createReq("n1", "10.32.0.0/24", map[string]interface{}{OptIfacePrefix: "data"})); err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateEndpoint(&network.CreateEndpointRequest{NetworkID: "n1", EndpointID: "e",
		Interface: &network.EndpointInterface{Address: "10.32.0.5/24"}}); err != nil {
		t.Fatal(err)
	}
	resp, err := d.Join(&network.JoinRequest{NetworkID: "n1", EndpointID: "e", SandboxKey: "/s"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.InterfaceName.DstPrefix != "data" || resp.InterfaceName.DstName != "" {
		t.Errorf("InterfaceName %+v, want DstPrefix data and no DstName", resp.InterfaceName)
	}
}

// TestIfnameRefusedOnOlderEngines checks that an interface name is refused, with a sentence naming the engine,
// where the engine is known to drop Join's DstName, and accepted where it honours it or is not known yet.
func TestIfnameRefusedOnOlderEngines(t *testing.T) {
	tests := []struct {
		version string
		refused bool
	}{
		{"", false}, {"29.8.1-weavego-e2e", false}, {"29.10.0", false}, {"30.0.1", false}, {"unknown", false},
		{"29.7.2", true}, {"28.5.1", true}, {"20.10.24+dfsg1", true},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			d := newJoinDriver(t, "", nil)
			d.cfg.EngineVersion = func() string { return tt.version }
			_, err := d.CreateEndpoint(&network.CreateEndpointRequest{NetworkID: "n2", EndpointID: "x",
				Interface: &network.EndpointInterface{Address: "10.32.1.9/24"}, Options: map[string]any{OptIfname: "data0"}})
			if !tt.refused {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "Docker engine ("+tt.version+")") || !strings.Contains(err.Error(), "29.8") {
				t.Fatalf("err = %v, want a sentence naming engine %s and 29.8", err, tt.version)
			}
			if _, err := d.CreateEndpoint(&network.CreateEndpointRequest{NetworkID: "n2", EndpointID: "y",
				Interface: &network.EndpointInterface{Address: "10.32.1.10/24"}}); err != nil {
				t.Fatalf("an endpoint without a name on the same engine: %v", err)
			}
		})
	}
}

// TestBadIfacePrefixOfReplica checks that a replica whose definition carries a prefix the kernel would refuse is
// created, and its interfaces keep Docker's eth<N>.
func TestBadIfacePrefixOfReplica(t *testing.T) {
	d, _, _ := newTestDriver(t)
	opts := map[string]interface{}{OptIfacePrefix: "a/b", OptReplica: "h9"}
	if err := d.CreateNetwork(createReq("n1", "10.32.0.0/24", opts)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateEndpoint(&network.CreateEndpointRequest{NetworkID: "n1", EndpointID: "e",
		Interface: &network.EndpointInterface{Address: "10.32.0.5/24"}}); err != nil {
		t.Fatal(err)
	}
	resp, err := d.Join(&network.JoinRequest{NetworkID: "n1", EndpointID: "e", SandboxKey: "/s"})
	if err != nil || resp.InterfaceName.DstPrefix != "eth" {
		t.Fatalf("Join: %+v, %v; want DstPrefix eth", resp, err)
	}
}

// TestSysctlsRefusedOnOldEngines checks that interface sysctls are refused on an engine that has no such option.
func TestSysctlsRefusedOnOldEngines(t *testing.T) {
	for version, refused := range map[string]bool{"20.10.24+dfsg1": true, "25.0.3": true, "29.8.1": false, "": false} {
		d := newJoinDriver(t, "", nil)
		d.cfg.EngineVersion = func() string { return version }
		_, err := d.CreateEndpoint(&network.CreateEndpointRequest{NetworkID: "n2", EndpointID: "x",
			Interface: &network.EndpointInterface{Address: "10.32.1.9/24"},
			Options:   map[string]any{OptSysctls: "net.ipv4.conf.IFNAME.log_martians=1"}})
		if got := err != nil; got != refused || refused && !strings.Contains(err.Error(), OptSysctls) {
			t.Errorf("engine %q: err = %v, want refused %v with a sentence naming %s", version, err, refused, OptSysctls)
		}
	}
}
