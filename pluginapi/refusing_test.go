package pluginapi

import (
	"slices"
	"strings"
	"testing"
)

// A plugin that a setting keeps from starting refuses what would create
// something with the sentence that says what to set, and lets teardown pass.
func TestRefusingHandler(t *testing.T) {
	const reason = "PEERS is set but this host has no cluster key: set KEY"
	var passed []string
	h := NewRefusingHandler(Config{}, reason, func(method string, _ any) { passed = append(passed, method) })
	for _, tt := range []struct {
		path string
		ok   bool
	}{
		{"/NetworkDriver.GetCapabilities", true},
		{"/IpamDriver.GetCapabilities", true},
		{"/IpamDriver.GetDefaultAddressSpaces", true},
		{"/IpamDriver.RequestPool", false},
		{"/IpamDriver.RequestAddress", false},
		{"/NetworkDriver.CreateNetwork", false},
		{"/NetworkDriver.AllocateNetwork", false},
		{"/NetworkDriver.CreateEndpoint", false},
		{"/NetworkDriver.Join", false},
		{"/NetworkDriver.ProgramExternalConnectivity", false},
		{"/NetworkDriver.RevokeExternalConnectivity", true},
		{"/NetworkDriver.Leave", true},
		{"/NetworkDriver.DeleteEndpoint", true},
		{"/NetworkDriver.EndpointOperInfo", true},
		{"/IpamDriver.ReleaseAddress", true},
		{"/IpamDriver.ReleasePool", true},
		{"/NetworkDriver.DeleteNetwork", true},
		{"/NetworkDriver.FreeNetwork", true},
	} {
		code, out := post(h, tt.path, `{}`)
		msg, _ := out["Err"].(string)
		switch {
		case tt.ok && code != 200:
			t.Errorf("%s: %d %q; want success", tt.path, code, msg)
		case !tt.ok && (code == 200 || !strings.Contains(msg, reason)):
			t.Errorf("%s: %d %q; want the refusal %q", tt.path, code, msg, reason)
		}
	}
	if _, out := post(h, "/IpamDriver.GetDefaultAddressSpaces", ""); out["LocalDefaultAddressSpace"] == "" {
		t.Errorf("address spaces: %v", out)
	}
	want := []string{"NetworkDriver.RevokeExternalConnectivity", "NetworkDriver.Leave", "NetworkDriver.DeleteEndpoint",
		"IpamDriver.ReleaseAddress", "IpamDriver.ReleasePool", "NetworkDriver.DeleteNetwork"}
	if !slices.Equal(passed, want) {
		t.Errorf("teardown requests passed on: %v; want %v", passed, want)
	}
}
