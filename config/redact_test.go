package config_test

import (
	"strings"
	"testing"

	"github.com/factory-wager/edgeconf/config"
)

func TestRedactURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"http://proxy:3128", "http://proxy:3128"},
		{"http://alice:S3cret@proxy:3128", "http://alice:xxxxx@proxy:3128"},
		{"http://alice@proxy:3128", "http://alice@proxy:3128"},
		{"alice:S3cret@proxy:3128", "alice:xxxxx@proxy:3128"},
		{"alice:p@ss@proxy:3128", "alice:xxxxx@proxy:3128"},
		{"mail alice:hi@example.com", "mail alice:hi@example.com"},
		{"http://a b:S3cret@c", "(unparseable URL with credentials, redacted)"},
	} {
		if got := config.RedactURL(tc.in); got != tc.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRedactValue(t *testing.T) {
	v := map[string]any{"url": "http://u:S3cret@p:1", "list": []any{"u:S3cret@h:2", 3.0}, "n": 1.0}
	got := config.RedactValue(v)
	if s := strings.Join([]string{got.(map[string]any)["url"].(string), got.(map[string]any)["list"].([]any)[0].(string)}, " "); strings.Contains(s, "S3cret") {
		t.Errorf("RedactValue left the password: %s", s)
	}
	if v["url"] != "http://u:S3cret@p:1" {
		t.Error("RedactValue changed its input")
	}
	if b := config.RedactJSON([]byte(`"http://u:S3cret@p:1"`)); strings.Contains(string(b), "S3cret") {
		t.Errorf("RedactJSON = %s", b)
	}
	for _, b := range []string{``, `7`, `{bad@`} {
		if got := string(config.RedactJSON([]byte(b))); got != b {
			t.Errorf("RedactJSON(%q) = %q", b, got)
		}
	}
}
