package main

import (
	"strings"
	"testing"
)

func TestCheckFlags(t *testing.T) {
	tests := []struct {
		rate, scale        float64
		instances, clients int
		want               []string
	}{
		{200, 0, 3, 32, nil},
		{-1, 0.05, 2, 1, nil},
		{0, 0, 3, 32, []string{"-rate 0"}},
		{-5, 0, 3, 32, []string{"-rate -5"}},
		{200, -1, 3, 32, []string{"-scale -1"}},
		{200, 0, 1, 32, []string{"-instances 1", "LastHealthyTarget"}},
		{200, 0, 3, 0, []string{"-clients 0"}},
	}
	for _, tt := range tests {
		got := strings.Join(checkFlags(tt.rate, tt.scale, tt.instances, tt.clients), "; ")
		if (got == "") != (tt.want == nil) {
			t.Errorf("%+v: %q", tt, got)
		}
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("%+v: %q lacks %q", tt, got, w)
			}
		}
	}
}
