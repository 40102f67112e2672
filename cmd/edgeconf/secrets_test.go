package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOverride_ProxyPasswordNeverPrinted: a proxy password set as an
// override (with or without a scheme) appears in no output of any
// command, and export keeps it only with --include-secrets.
func TestOverride_ProxyPasswordNeverPrinted(t *testing.T) {
	const pw = "Hunter2pw"
	for _, url := range []string{"http://alice:" + pw + "@127.0.0.1:3128", "alice:" + pw + "@127.0.0.1:3128"} {
		env := map[string]string{"EDGECONF_STATE_DIR": filepath.Join(t.TempDir(), "state"), "USER": "tester"}
		setCode, setOut, setErr := runCLI(t, env, "override", "set", "proxy.url", url, "-c", example)
		if strings.Contains(setOut+setErr, pw) {
			t.Errorf("override set %s printed the password:\n%s%s", url, setOut, setErr)
		}
		if strings.Contains(url, "://") && setCode != 0 {
			t.Fatalf("override set %s: exit %d\n%s", url, setCode, setErr)
		}
		if setCode != 0 {
			// Without a scheme the override is refused; the refusal
			// must not print it either (checked above). Check the
			// file path too: validate of such a file.
			cfg := writeConfig(t, strings.Replace(readExample(t), `url: "${HTTPS_PROXY:-}"`, `url: "`+url+`"`, 1))
			code, out, errOut := runCLI(t, env, "validate", "-c", cfg)
			if code != 1 || !strings.Contains(out+errOut, "alice:xxxxx@") {
				t.Errorf("validate of a proxy URL without a scheme: exit %d, want 1 naming alice:xxxxx@\n%s%s", code, out, errOut)
			}
			if strings.Contains(out+errOut, pw) {
				t.Errorf("validate printed the password:\n%s%s", out, errOut)
			}
			continue
		}
		exported := filepath.Join(t.TempDir(), "export.json")
		withSecrets := filepath.Join(t.TempDir(), "secrets.json")
		for _, args := range [][]string{
			{"override", "list"}, {"override", "list", "-o", "json"},
			{"override", "get", "proxy.url"}, {"override", "get", "proxy.url", "-o", "json"},
			{"override", "history"}, {"override", "history", "-o", "json"},
			{"override", "export"}, {"override", "export", "--output", exported},
			{"get", "proxy.url"}, {"get", "proxy.url", "--explain"}, {"get", "--all", "-o", "json"},
			{"validate"}, {"validate", "-o", "json"},
			{"override", "set", "proxy.url", "http://bob:other@127.0.0.1:3129", "-o", "json"},
			{"override", "rollback", "proxy.url"},
		} {
			code, out, errOut := runCLI(t, env, append(args, "-c", example)...)
			if code != 0 {
				t.Errorf("%v: exit %d\n%s", args, code, errOut)
			}
			if strings.Contains(out+errOut, pw) {
				t.Errorf("%v printed the password:\n%s%s", args, out, errOut)
			}
		}
		b, err := os.ReadFile(exported)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), pw) || !strings.Contains(string(b), `"redacted": true`) {
			t.Errorf("export without --include-secrets: %s", b)
		}
		if code, _, errOut := runCLI(t, env, "override", "export", "--include-secrets", "--output", withSecrets, "-c", example); code != 0 {
			t.Fatalf("export --include-secrets: exit %d\n%s", code, errOut)
		}
		if b, _ := os.ReadFile(withSecrets); !strings.Contains(string(b), pw) {
			t.Errorf("export --include-secrets lost the password: %s", b)
		}
	}
}

func readExample(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
