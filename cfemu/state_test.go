package cfemu_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/cfemu"
)

// TestState_Persists: with StateDir, namespaces, keys, scripts, zones,
// buckets and D1 data survive a restart.
func TestState_Persists(t *testing.T) {
	dir := t.TempDir()
	o := cfemu.Options{StateDir: dir, SaveDelay: time.Millisecond, Zones: []cfemu.ZoneSeed{{Name: "factory-wager.com"}}}
	h := newHarness(t, o)
	ns := nsBase + "/" + h.namespace("CONFIG")
	mp := mpart(t, "v1", `{"a":1}`)
	h.want(h.do("PUT", ns+"/values/k%2F1?expiration_ttl=3600", mp[0], "Content-Type", mp[1]), 200, 0)
	h.want(h.upload("PUT", scripts+"/app", `{"main_module":"index.js"}`, [2]string{"index.js", "export default {}"}), 200, 0)
	h.want(h.do("POST", "accounts/"+account+"/r2/buckets", map[string]string{"name": "files"}), 200, 0)
	a := h.do("POST", "accounts/"+account+"/d1/database", map[string]string{"name": "db"})
	var db struct{ UUID string }
	a.result(t, &db)
	q := "accounts/" + account + "/d1/database/" + db.UUID + "/query"
	h.want(h.do("POST", q, map[string]any{"sql": "CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('kept')"}), 200, 0)
	if err := h.emu.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "cfemu-state.json")); err != nil {
		t.Fatalf("no snapshot: %v", err)
	}

	h2 := newHarness(t, o)
	if a := h2.do("GET", ns+"/values/k%2F1", nil); string(a.Raw) != "v1" || a.Header.Get("Expiration") == "" {
		t.Errorf("key after restart: %d %q", a.Status, a.Raw)
	}
	if a := h2.do("GET", ns+"/metadata/k%2F1", nil); string(a.Env.Result) != `{"a":1}` {
		t.Errorf("metadata after restart: %s", a.Raw)
	}
	h2.want(h2.do("GET", scripts+"/app", nil), 200, 0)
	h2.want(h2.do("GET", "accounts/"+account+"/r2/buckets/files", nil), 200, 0)
	if a := h2.do("POST", q, map[string]any{"sql": "SELECT v FROM t"}); !strings.Contains(string(a.Env.Result), "kept") {
		t.Errorf("D1 after restart: %s", a.Raw)
	}
	if a := h2.do("GET", "zones?name=factory-wager.com", nil); strings.Count(string(a.Env.Result), `"name_servers"`) != 1 {
		t.Errorf("the seeded zone was duplicated on restart: %s", a.Env.Result)
	}
	h2.want(h2.do("DELETE", "accounts/"+account+"/d1/database/"+db.UUID, nil), 200, 0)
	if _, err := os.Stat(filepath.Join(dir, "d1", db.UUID+".sqlite")); !os.IsNotExist(err) {
		t.Errorf("deleted database file remains: %v", err)
	}
	if err := h2.emu.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h2.emu.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestState_Refused(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, content, want string }{
		{"corrupt", "{", "read state"},
		{"other version", `{"version":99}`, "version 99"},
	} {
		if err := os.WriteFile(filepath.Join(dir, "cfemu-state.json"), []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := cfemu.New(cfemu.Options{StateDir: dir}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "cfemu-state.json"), []byte(`{"version":1,"accounts":{"`+account+`":{}},"zones":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	e, err := cfemu.New(cfemu.Options{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := cfemu.New(cfemu.Options{StateDir: filepath.Join(file, "sub")}); err == nil {
		t.Error("a state folder under a file was accepted")
	}
}
