package driver

import (
	"net/netip"
	"testing"
)

// TestDirectNetwork: -o direct (and DIRECT_DEFAULT for networks created here, when not encrypted) makes a
// direct kernel network; -o direct with -o encrypted is refused with a sentence; a value that is not a
// boolean is refused; a replica follows its definition.
func TestDirectNetwork(t *testing.T) {
	cfg := Config{VTEP: netip.MustParseAddr("192.0.2.1"), VXLANPort: 4789, EncryptedVXLANPort: 4790, TunnelOverhead: 60}
	on := func(c *Config) { c.DirectDefault = true }
	tests := []struct {
		name    string
		cfg     func(*Config)
		generic map[string]interface{}
		direct  bool
		wantErr string
	}{
		{"plain", nil, nil, false, ""},
		{"option", nil, map[string]interface{}{"direct": ""}, true, ""},
		{"option true", nil, map[string]interface{}{"direct": "true"}, true, ""},
		{"option false", nil, map[string]interface{}{"direct": "false"}, false, ""},
		{"option bad", nil, map[string]interface{}{"direct": "yes"}, false, `option direct="yes" is not true or false`},
		{"with encrypted", nil, map[string]interface{}{"direct": "", "encrypted": ""}, false,
			"a network cannot be both direct and encrypted"},
		{"false with encrypted", nil, map[string]interface{}{"direct": "false", "encrypted": ""}, false, ""},
		{"default", on, nil, true, ""},
		{"default, false", on, map[string]interface{}{"direct": "false"}, false, ""},
		{"default, encrypted", on, map[string]interface{}{"encrypted": ""}, false, ""},
		{"default, replica", on, map[string]interface{}{OptReplica: "h1"}, false, ""},
		{"replica direct", nil, map[string]interface{}{OptReplica: "h1", "direct": ""}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, dp, ok := createOne(t, cfg, tt.cfg, tt.generic, tt.wantErr)
			if !ok {
				return
			}
			if got := dp.networks["n1"].Direct; got != tt.direct {
				t.Errorf("kernel network direct = %v, want %v", got, tt.direct)
			}
		})
	}
}
