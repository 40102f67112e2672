package config_test

import (
	"errors"
	"path/filepath"
	"strings"
	"syscall"
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

// TestParse_DeepNesting: 150 levels of nesting are refused as too deeply
// nested, naming the limit, not as "excessive aliasing".
func TestParse_DeepNesting(t *testing.T) {
	src := "domain: example.com\nx: " + strings.Repeat("[", 150) + strings.Repeat("]", 150) + "\n"
	_, err := config.Parse(strings.NewReader(src), config.LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "too deeply nested (limit 100 levels") || strings.Contains(err.Error(), "aliasing") {
		t.Errorf("Parse of 150 levels = %v, want too deeply nested (limit 100 levels)", err)
	}
}

// TestLoad_NotRegular: a FIFO (which would block a read until a writer
// comes) and a directory are refused at once, naming what they are.
func TestLoad_NotRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "cloudflare-config.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	for path, kind := range map[string]string{fifo: "FIFO", dir: "directory"} {
		_, err := config.Load(path, config.LoadOptions{})
		if !errors.Is(err, config.ErrNotRegular) || !strings.Contains(err.Error(), kind) {
			t.Errorf("Load(%s) = %v, want ErrNotRegular naming a %s", path, err, kind)
		}
	}
}
