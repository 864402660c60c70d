package mesh

import (
	"errors"
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
	if len(secretKey("pw")) != 32 || secretKey("") != nil {
		t.Error("secretKey must give 32 bytes, or nil without a password")
	}
}
