package mesh

import (
	"errors"
	"net/netip"
	"testing"
	"time"
)

func TestPeerAddr(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "10.0.0.2", want: "10.0.0.2:6783"},
		{in: "10.0.0.2:7000", want: "10.0.0.2:7000"},
		{in: " host-b ", want: "host-b:6783"},
		{in: "fe80::1", want: "[fe80::1]:6783"},
		{in: "[fe80::1]", want: "[fe80::1]:6783"},
		{in: "[fe80::1]:9", want: "[fe80::1]:9"},
		{in: "", wantErr: true},
		{in: "host:0", wantErr: true},
		{in: "host:http", wantErr: true},
		{in: ":6783", wantErr: true},
	}
	for _, tt := range tests {
		got, err := peerAddr(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("peerAddr(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{"defaults", Config{Name: "a"}, false},
		{"no name", Config{}, true},
		{"bad port", Config{Name: "a", BindPort: 70000}, true},
		{"bad peer", Config{Name: "a", Peers: []string{"h:x"}}, true},
		{"timeout above interval", Config{Name: "a", ProbeTimeout: time.Second}, true},
		{"negative ttl", Config{Name: "a", TombstoneTTL: -1}, true},
		{"key", Config{Name: "a", Keys: [][]byte{make([]byte, 32)}}, false},
		{"short key", Config{Name: "a", Keys: [][]byte{make([]byte, 7)}}, true},
		{"rollout", Config{Name: "a", Keys: [][]byte{make([]byte, 32)}, KeyRollout: RolloutSend}, false},
		{"rollout without key", Config{Name: "a", KeyRollout: RolloutAccept}, true},
		{"bad rollout", Config{Name: "a", Keys: [][]byte{make([]byte, 32)}, KeyRollout: "later"}, true},
	}
	for _, tt := range tests {
		err := tt.cfg.withDefaults().validate()
		if (err != nil) != tt.wantErr || (err != nil && !errors.Is(err, ErrInvalidConfig)) {
			t.Errorf("%s: validate() = %v, want error %v", tt.name, err, tt.wantErr)
		}
	}
	c := Config{Name: "a"}.withDefaults()
	if c.BindPort != DefaultPort || c.BindPort == 7946 {
		t.Errorf("default port %d", c.BindPort)
	}
	if got := c.detectionBound(5); got > 7*time.Second {
		t.Errorf("detection bound for 5 hosts is %s, want a few seconds", got)
	}
	if c.BindAddr != "0.0.0.0" {
		t.Errorf("default bind address %s without an advertise address", c.BindAddr)
	}
	if c := (Config{Name: "a", AdvertiseAddr: netip.AddrFrom4([4]byte{10, 0, 0, 1})}).withDefaults(); c.BindAddr != "10.0.0.1" {
		t.Errorf("bind address %s, want the advertise address", c.BindAddr)
	}
}
