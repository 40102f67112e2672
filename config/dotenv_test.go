package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/factory-wager/edgeconf/config"
)

// A malformed .env line is reported by file and line, never with the text
// that follows it (which holds the API token).
func TestLoad_MalformedDotEnvHidesValues(t *testing.T) {
	for name, body := range map[string]string{
		"bare words":     "A=1\nthis is bad line\nCLOUDFLARE_API_TOKEN=supersecret-token\n",
		"bad name":       "A=1\n\nB-C=x\nCLOUDFLARE_API_TOKEN=supersecret-token\n",
		"unterminated":   "A=1\nB=\"supersecret-token\nC=2\n",
		"secret on line": "A=1\nsupersecret-token\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			env := filepath.Join(dir, ".env")
			if err := os.WriteFile(env, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := filepath.Join(dir, "c.yaml")
			if err := os.WriteFile(cfg, []byte(minimal), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := config.Load(cfg, config.LoadOptions{DotEnv: env})
			if err == nil {
				t.Fatal("Load accepted a malformed .env")
			}
			if strings.Contains(err.Error(), "supersecret") || !strings.Contains(err.Error(), env) {
				t.Errorf("error = %q, want the file named and no value shown", err)
			}
			if name == "bare words" && (!strings.Contains(err.Error(), ".env: line 2: not NAME=value") || strings.Contains(err.Error(), `"\n"`)) {
				t.Errorf("error = %q, want line 2 named and what a line wants", err)
			}
		})
	}
}
