package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseDayDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{"8d", 8 * 24 * time.Hour, ""},
		{"1d12h", 36 * time.Hour, ""},
		{"90m", 90 * time.Minute, ""},
		{"0", 0, ""},
		{"d", 0, "invalid duration"},
		{"xd", 0, "invalid duration"},
		{"-1d", 0, "invalid duration"},
		{"1dzz", 0, "invalid duration"},
		{"99999d", 0, "more than 36500 days"},
		{"", 0, "invalid duration"},
	}
	for _, tt := range tests {
		got, err := parseDayDuration(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: err %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	var d time.Duration
	v := dayDuration{&d}
	if err := v.Set("7d"); err != nil || v.String() != "168h0m0s" || v.Type() != "duration" || (dayDuration{}).String() != "0" {
		t.Errorf("flag value: %v %q", err, v.String())
	}
}
