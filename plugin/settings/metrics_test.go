package settings

import (
	"strings"
	"testing"
)

func TestMetricsAddr(t *testing.T) {
	tests := []struct {
		in, want, wantErr string
	}{
		{"", "", ""},
		{"127.0.0.1:9783", "127.0.0.1:9783", ""},
		{" [::1]:9783 ", "[::1]:9783", ""},
		{":9783", ":9783", ""},
		{"127.0.0.1", "", "not host:port"},
		{"127.0.0.1:0", "", "port"},
		{"127.0.0.1:x", "", "port"},
		{"localhost:9783", "", "IP address"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s, err := Parse(env(map[string]string{"METRICS_ADDR": tt.in}))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), "METRICS_ADDR") || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one about METRICS_ADDR saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || s.MetricsAddr != tt.want {
				t.Fatalf("MetricsAddr = %q, %v; want %q", s.MetricsAddr, err, tt.want)
			}
		})
	}
}
