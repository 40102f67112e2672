package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOutputJSON_EveryResultCommand: each command that prints a result
// takes -o json and prints one JSON object with the fields people script
// against; an unknown format is a usage error.
func TestOutputJSON_EveryResultCommand(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	env := map[string]string{"EDGECONF_STATE_DIR": state, "EDGECONF_CONFIG": writeConfig(t, r2Config)}
	kvEnv := map[string]string{"EDGECONF_STATE_DIR": filepath.Join(t.TempDir(), "kvstate")}
	bulk := filepath.Join(t.TempDir(), "bulk.json")
	if err := os.WriteFile(bulk, []byte(`[{"key":"a","value":"1"},{"key":"b","value":"2"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	dl := filepath.Join(t.TempDir(), "dl.txt")
	steps := []struct {
		name  string
		env   map[string]string
		stdin string
		args  []string
		want  map[string]any // fields of the JSON object
	}{
		{"kv put", kvEnv, "", []string{"kv", "put", "k", "v\xff", "-c", example, "-o", "json"}, map[string]any{"key": "k", "bytes": 2.0, "written": true}},
		{"kv get", kvEnv, "", []string{"kv", "get", "k", "-c", example, "-o", "json"}, map[string]any{"key": "k", "value": "dv8=", "base64": true}},
		{"kv bulk-put", kvEnv, "", []string{"kv", "bulk-put", bulk, "-c", example, "-o", "json"}, map[string]any{"written": 2.0}},
		{"kv bulk-delete", kvEnv, "", []string{"kv", "bulk-delete", bulk, "-c", example, "-o", "json"}, map[string]any{"deleted": 2.0}},
		{"kv delete", kvEnv, "", []string{"kv", "delete", "k", "-c", example, "-o", "json"}, map[string]any{"key": "k", "deleted": true}},
		{"r2 put", env, "hello", []string{"r2", "put", "FILES/a.txt", "-o", "json"}, map[string]any{"bucket": "quantum-files", "key": "a.txt", "size": 5.0, "etag": "5d41402abc4b2a76b9719d911017c592"}},
		{"r2 get", env, "", []string{"r2", "get", "FILES/a.txt", "--file", dl, "-o", "json"}, map[string]any{"bucket": "quantum-files", "key": "a.txt", "size": 5.0, "file": dl}},
		{"r2 presign", env, "", []string{"r2", "presign", "FILES/a.txt", "--expires", "2h", "-o", "json"}, map[string]any{"method": "GET", "expires": testNow.Add(7200e9).UTC().Format("2006-01-02T15:04:05Z07:00")}},
		{"override set", kvEnv, "", []string{"override", "set", "features.premium.rolloutPercentage", "40", "-c", example, "-o", "json"}, map[string]any{"path": "features.premium.rolloutPercentage", "value": 40.0}},
		{"override rollback", kvEnv, "", []string{"override", "rollback", "features.premium.rolloutPercentage", "-c", example, "-o", "json"}, map[string]any{"path": "features.premium.rolloutPercentage", "removed": true}},
		{"override delete", kvEnv, "", []string{"override", "delete", "features.premium.rolloutPercentage", "-c", example, "-o", "json"}, map[string]any{"path": "features.premium.rolloutPercentage", "deleted": false}},
		{"r2 rm", env, "", []string{"r2", "rm", "FILES/a.txt", "-o", "json"}, map[string]any{"bucket": "quantum-files", "key": "a.txt", "deleted": true}},
	}
	for _, st := range steps {
		code, out, errOut := runR2(t, st.env, strings.NewReader(st.stdin), st.args...)
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s", st.name, code, errOut)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%s: not a JSON object: %v\n%s", st.name, err, out)
		}
		for k, v := range st.want {
			if got[k] != v {
				t.Errorf("%s: %s = %#v, want %#v (all: %s)", st.name, k, got[k], v, out)
			}
		}
		if st.name == "r2 presign" && !strings.HasPrefix(got["url"].(string), "http") {
			t.Errorf("presign url = %v", got["url"])
		}
	}
	for _, args := range [][]string{
		{"kv", "put", "k", "v", "-c", example, "-o", "yaml"},
		{"kv", "get", "k", "-c", example, "-o", "table"},
		{"r2", "rm", "FILES/a.txt", "-o", "csv"},
		{"r2", "get", "FILES/a.txt", "-o", "json"}, // json describes a download to --file
		{"schema", "-o", "table"},
	} {
		if code, _, errOut := runR2(t, env, strings.NewReader(""), args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d\n%s", args, code, exitUsage, errOut)
		}
	}
	if code, out, _ := runR2(t, env, nil, "schema", "-o", "json"); code != 0 || !json.Valid([]byte(out)) {
		t.Errorf("schema -o json: exit %d, valid JSON %v", code, json.Valid([]byte(out)))
	}
}
