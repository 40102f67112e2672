package main

import (
	"encoding/json"
	"github.com/factory-wager/edgeconf/local"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOverrideAndKV(t *testing.T) {
	env := map[string]string{"EDGECONF_STATE_DIR": filepath.Join(t.TempDir(), "state"), "USER": "tester"}
	bulk := filepath.Join(t.TempDir(), "bulk.json")
	if err := os.WriteFile(bulk, []byte(`[{"key":"a","value":"1"},{"key":"b","value":"aGk=","base64":true,"expiration_ttl":120}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	badBulk := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(badBulk, []byte(`[{"key":"..","value":"1"}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	delFile := filepath.Join(t.TempDir(), "del.json")
	if err := os.WriteFile(delFile, []byte(`["a", {"key": "b"}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	exported := filepath.Join(t.TempDir(), "export.json")
	steps := []struct {
		name     string
		args     []string
		wantCode int
		want     []string
	}{
		{"read-only list on a fresh folder", []string{"override", "list", "-c", example}, 0, []string{"PATH", "empty: nothing written yet"}},
		{"set", []string{"override", "set", "features.premium.rolloutPercentage", "40", "-c", example}, 0, []string{"set features.premium.rolloutPercentage = 40 (rev 1, by tester)"}},
		{"set again by someone", []string{"override", "set", "features.premium.rolloutPercentage", "45", "--by", "bob", "--ttl", "2h", "-c", example}, 0, []string{"(rev 2, by bob, expires 2026-06-01T14:00:00Z)"}},
		{"staging is separate", []string{"override", "get", "features.premium.rolloutPercentage", "--env", "staging", "-c", example}, 1, []string{"no override"}},
		{"get json", []string{"override", "get", "features.premium.rolloutPercentage", "-o", "json", "-c", example}, 0, []string{`"rev": 2`, `"setBy": "bob"`, `"key": "edgeconf/v1/overrides/_base/features.premium.rolloutPercentage"`}},
		{"effective value", []string{"get", "features.premium.rolloutPercentage", "--explain", "-c", example}, 0, []string{"45", "kv", "set by bob", "expires 2026-06-01T14:00:00Z", "file (../../cloudflare-config.yaml:10:52)"}},
		{"validate marks it", []string{"validate", "-o", "json", "-c", example}, 0, []string{`"kvOverride": true`}},
		{"refused type", []string{"override", "set", "ports.main", "eighty", "-c", example}, 1, []string{"refused", `expected a whole number, got "eighty"`}},
		{"refused rule", []string{"override", "set", "features.webgl.rolloutPercentage", "250", "-c", example}, 1, []string{"250 is outside 0..100"}},
		{"short ttl", []string{"override", "set", "owner", "x", "--ttl", "10s", "-c", example}, 2, []string{"--ttl 10s is below Workers KV's minimum of 1m0s"}},
		{"value and ref", []string{"override", "set", "owner", "x", "--ref", "kv://CONFIG/o", "-c", example}, 2, []string{"give a VALUE or --ref URI"}},
		{"neither value nor ref", []string{"override", "set", "owner", "-c", example}, 2, nil},
		{"empty yaml value", []string{"override", "set", "owner", "~", "-c", example}, 2, []string{"override delete owner"}},
		{"bad yaml value", []string{"override", "set", "owner", "[x", "-c", example}, 2, []string{"is not YAML"}},
		{"bad output", []string{"override", "list", "-o", "xml", "-c", example}, 2, nil},
		{"history", []string{"override", "history", "features.premium.rolloutPercentage", "-o", "json", "-c", example}, 0, []string{`"who": "tester"`, `"who": "bob"`, `"rev": 2`}},
		{"history table", []string{"override", "history", "-c", example}, 0, []string{"ACTION", "set"}},
		{"export", []string{"override", "export", "--output", exported, "-c", example}, 0, nil},
		{"export bad format", []string{"override", "export", "--format", "csv", "-c", example}, 2, nil},
		{"delete", []string{"override", "delete", "features.premium.rolloutPercentage", "--by", "carol", "-c", example}, 0, []string{"deleted"}},
		{"delete again", []string{"override", "delete", "features.premium.rolloutPercentage", "-c", example}, 0, []string{"nothing to delete", "no override"}},
		{"back to the file", []string{"get", "features.premium.rolloutPercentage", "-c", example}, 0, []string{"25"}},
		{"kv put and get", []string{"kv", "put", "greeting", "hello", "--metadata", `{"by":"t"}`, "--ttl", "5m"}, 0, []string{"wrote 5 bytes to greeting"}},
		{"kv get metadata", []string{"kv", "get", "greeting", "--metadata"}, 0, []string{`"value": "hello"`, `"by": "t"`, `"expiration": 1780315500`}},
		{"kv put bad metadata", []string{"kv", "put", "k", "v", "--metadata", `[1]`}, 2, []string{"metadata must be a JSON object"}},
		{"kv put short ttl", []string{"kv", "put", "k", "v", "--ttl", "30s"}, 2, []string{"below the minimum of 60 s"}},
		{"kv put dot key", []string{"kv", "put", ".", "v"}, 2, []string{`the keys "", "." and ".." are not allowed`}},
		{"kv put value and path", []string{"kv", "put", "k", "v", "--path", bulk}, 2, nil},
		{"kv put from file", []string{"kv", "put", "file-key", "--path", bulk}, 0, []string{"wrote"}},
		{"kv bulk-put", []string{"kv", "bulk-put", bulk}, 0, []string{"wrote 2 pairs"}},
		{"kv base64 value", []string{"kv", "get", "b"}, 0, []string{"hi"}},
		{"kv bulk-put refused", []string{"kv", "bulk-put", badBulk}, 1, []string{"item 0", "key-name"}},
		{"kv bulk-put missing file", []string{"kv", "bulk-put", "/nonexistent.json"}, 2, nil},
		{"kv list", []string{"kv", "list", "--prefix", "edgeconf/v1/audit/", "--limit", "2"}, 0, []string{`"name": "edgeconf/v1/audit/_base/`}},
		{"kv bulk-delete", []string{"kv", "bulk-delete", delFile}, 0, []string{"deleted 2 keys"}},
		{"kv get missing", []string{"kv", "get", "a"}, 1, []string{"key not found"}},
		{"kv delete", []string{"kv", "delete", "greeting"}, 0, []string{"deleted greeting"}},
		{"kv other binding", []string{"kv", "get", "greeting", "--binding", "OTHER"}, 1, []string{"namespace OTHER"}},
		{"kv remote without credentials", []string{"kv", "get", "x", "--remote"}, 2, []string{"CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID are not set"}},
		{"kv local and remote", []string{"kv", "get", "x", "--remote", "--local"}, 2, []string{"not both"}},
		{"kv help", []string{"kv"}, 0, []string{"Workers KV"}},
		{"override help", []string{"override"}, 0, []string{"default < file < environment"}},
	}
	for _, s := range steps {
		code, out, errOut := runCLI(t, env, s.args...)
		if code != s.wantCode {
			t.Fatalf("%s: edgeconf %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", s.name, strings.Join(s.args, " "), code, s.wantCode, out, errOut)
		}
		for _, w := range s.want {
			if !strings.Contains(out+errOut, w) {
				t.Errorf("%s: output lacks %q:\nstdout:\n%s\nstderr:\n%s", s.name, w, out, errOut)
			}
		}
	}
	var items []map[string]any
	b, err := os.ReadFile(exported)
	if err != nil || json.Unmarshal(b, &items) != nil || len(items) != 1 || items[0]["value"] != "45" {
		t.Errorf("export file: %s (%v)", b, err)
	}
}

func TestOverride_StateFolderInUse(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	env := map[string]string{"EDGECONF_STATE_DIR": dir}
	if code, _, errOut := runCLI(t, env, "kv", "put", "k", "v"); code != 0 {
		t.Fatal(errOut)
	}
	st, err := local.Open(local.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	code, _, errOut := runCLI(t, env, "kv", "put", "k", "v2")
	if code != 1 || !strings.Contains(errOut, "state folder is in use") || !strings.Contains(errOut, "pid") {
		t.Errorf("second writer: exit %d\n%s", code, errOut)
	}
}

func TestFlags_SeeOverrides(t *testing.T) {
	env := map[string]string{"EDGECONF_STATE_DIR": filepath.Join(t.TempDir(), "state")}
	if code, _, errOut := runCLI(t, env, "override", "set", "features.premium.rolloutPercentage", "100", "-c", example); code != 0 {
		t.Fatal(errOut)
	}
	code, out, errOut := runCLI(t, env, "flags", "eval", "premium", "--user", "someone@example.com", "-o", "json", "-c", example)
	if code != 0 || !strings.Contains(out, `"enabled": true`) || !strings.Contains(out, `"reason": "in-rollout"`) {
		t.Errorf("flags eval after a 100%% override: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, env, "flags", "list", "-c", example)
	if code != 0 || !strings.Contains(out, "kv (edgeconf/v1/overrides/_base/features.premium.rolloutPercentage") {
		t.Errorf("flags list does not name the override:\n%s", out)
	}
}

// TestOverride_UsageErrors: an unknown path and a TTL below KV's minimum
// are usage errors (exit 2), named plainly; deleting an override of an
// unknown path exits 0 but warns of the likely typo.
func TestOverride_UsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"override", "set", "features.premium.rolout", "10"}, `did you mean "rolloutPercentage"`},
		{[]string{"override", "set", "ports.main", "9000", "--ttl", "30s"}, "--ttl 30s is below Workers KV's minimum of 1m0s"},
	} {
		code, _, errOut := runCLI(t, nil, append(tc.args, "-c", example)...)
		if code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
	code, out, errOut := runCLI(t, nil, "override", "delete", "features.premium.rolout", "-c", example)
	if code != 0 || !strings.Contains(out, "nothing to delete") || !strings.Contains(errOut, "warning: ") || !strings.Contains(errOut, "rolout") {
		t.Errorf("delete of an unknown path: exit %d, %q %q", code, out, errOut)
	}
}
