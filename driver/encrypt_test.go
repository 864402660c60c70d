package driver

import (
	"errors"
	"net/netip"
	"testing"
)

// TestEncryptedNetwork: -o encrypted (and ENCRYPT_DEFAULT for networks created here) makes a network whose
// VXLAN uses the encrypted port and leaves room for the tunnel in its MTU; a replica follows its definition,
// never the local default; a host that cannot encrypt refuses with the reason.
func TestEncryptedNetwork(t *testing.T) {
	cfg := Config{VTEP: netip.MustParseAddr("192.0.2.1"), VXLANPort: 4789, EncryptedVXLANPort: 4790, TunnelOverhead: 60}
	tests := []struct {
		name      string
		cfg       func(*Config)
		generic   map[string]interface{}
		encrypted bool
		wantErr   string
	}{
		{"plain", nil, nil, false, ""},
		{"option", nil, map[string]interface{}{"encrypted": ""}, true, ""},
		{"option true", nil, map[string]interface{}{"encrypted": "true"}, true, ""},
		{"default", func(c *Config) { c.EncryptDefault = true }, nil, true, ""},
		{"default, false", func(c *Config) { c.EncryptDefault = true }, map[string]interface{}{"encrypted": "false"}, false, ""},
		{"default, replica", func(c *Config) { c.EncryptDefault = true }, map[string]interface{}{OptReplica: "h1"}, false, ""},
		{"replica encrypted", nil, map[string]interface{}{OptReplica: "h1", "encrypted": ""}, true, ""},
		{"cannot encrypt", func(c *Config) { c.CannotEncrypt = errors.New("no TUN device") },
			map[string]interface{}{"encrypted": ""}, false, "this host cannot create or join an encrypted network: no TUN device"},
		{"cannot encrypt, plain", func(c *Config) { c.CannotEncrypt = errors.New("no TUN device") }, nil, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, dp, ok := createOne(t, cfg, tt.cfg, tt.generic, tt.wantErr)
			if !ok {
				return
			}
			kn := dp.networks["n1"]
			if got := kn.Port == 4790; got != tt.encrypted {
				t.Errorf("kernel network port %d, want encrypted=%v", kn.Port, tt.encrypted)
			}
			if tt.encrypted && kn.TunnelOverhead != 60 {
				t.Errorf("tunnel overhead %d, want 60", kn.TunnelOverhead)
			}
			if got := Encrypted(d.Networks()[0].Options); got != tt.encrypted {
				t.Errorf("recorded options %v say encrypted=%v, want %v (they are what the cluster replicates)",
					d.Networks()[0].Options, got, tt.encrypted)
			}
		})
	}
}

func TestEncryptedOptionValues(t *testing.T) {
	for v, want := range map[string]bool{"": true, "true": true, "1": true, "false": false, "0": false, "junk": true} {
		if got := Encrypted(map[string]string{OptEncrypted: v}); got != want {
			t.Errorf("Encrypted(encrypted=%q) = %v, want %v", v, got, want)
		}
	}
	if Encrypted(map[string]string{}) {
		t.Error("no option is encrypted")
	}
}
