package main

import (
	"slices"
	"testing"
)

func TestMergePeers(t *testing.T) {
	tests := []struct {
		name           string
		setting, saved []string
		want           []string
	}{
		{"none", nil, nil, nil},
		{"setting only", []string{"10.0.0.2"}, nil, []string{"10.0.0.2:6783"}},
		{"saved added", []string{"10.0.0.2"}, []string{"10.0.0.3:7000"}, []string{"10.0.0.2:6783", "10.0.0.3:7000"}},
		{"same peer once", []string{"10.0.0.2"}, []string{"10.0.0.2:6783"}, []string{"10.0.0.2:6783"}},
		{"bad saved skipped", nil, []string{"a b", "h1"}, []string{"h1:6783"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mergePeers(tt.setting, tt.saved); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
