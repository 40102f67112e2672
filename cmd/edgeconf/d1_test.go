package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/cfemu"
	"github.com/factory-wager/edgeconf/cloudflare"
)

const d1Config = `owner: team
domain: example.com
cloudflare:
  accountId: 0123456789abcdef0123456789abcdef
  worker: { name: app, main: index.js, compatibilityDate: "2025-01-01" }
  r2Buckets: [ { binding: FILES, bucket: quantum-files } ]
  d1Databases:
    - { binding: DB, name: quantum-db }
    - { binding: OTHER, name: other-db, migrationsDir: db/other }
crossReferences:
  - { source: D1, path: "DB?sql=SELECT+value+FROM+settings+WHERE+key%3D'theme'", validator: non-empty }
`

// TestD1_Local runs every d1 command against the local state folder.
func TestD1_Local(t *testing.T) {
	cfg := writeConfig(t, d1Config)
	state := filepath.Join(t.TempDir(), "state")
	env := map[string]string{"EDGECONF_CONFIG": cfg, "EDGECONF_STATE_DIR": state}
	step := func(wantCode int, want string, args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, env, args...)
		if code != wantCode || !strings.Contains(out+errOut, want) {
			t.Fatalf("edgeconf %s: exit %d (want %d)\nstdout:\n%s\nstderr:\n%s\nwant %q", strings.Join(args, " "), code, wantCode, out, errOut, want)
		}
		return out
	}
	// Before anything exists the d1:// reference is "not checked", not an error.
	step(0, "has no file yet (apply its migrations)", "validate")

	path := strings.TrimSpace(step(0, "0001_init.sql", "d1", "migrations", "create", "DB", "init"))
	if filepath.Dir(path) != filepath.Join(filepath.Dir(cfg), "migrations") {
		t.Errorf("migration written to %s", path)
	}
	body := "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT);\nINSERT INTO settings VALUES ('theme', 'dark'), ('bell', 'on\x1b[31m');\n"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	step(0, "0001_init.sql  pending", "d1", "migrations", "list", "DB")
	step(0, "applied 0001_init.sql", "d1", "migrations", "apply", "DB")
	step(0, "no migrations to apply", "d1", "migrations", "apply", "quantum-db", "--local")
	step(0, `"applied": true`, "d1", "migrations", "list", "DB", "-o", "json")
	// The other database reads its own folder.
	step(0, filepath.Join("db", "other", "0001_x.sql"), "d1", "migrations", "create", "OTHER", "x")

	out := step(0, "theme  dark", "d1", "query", "DB", "SELECT key, value FROM settings WHERE key = ?", "--param", "theme")
	if !strings.HasPrefix(out, "key    value\n") {
		t.Errorf("table output = %q", out)
	}
	// Control characters from the database never reach the terminal.
	if out := step(0, "bell", "d1", "query", "DB", "SELECT * FROM settings", "-o", "csv"); strings.Contains(out, "\x1b") || !strings.HasPrefix(out, "key,value\n") {
		t.Errorf("csv output = %q", out)
	}
	step(0, `"rows_read": 1`, "d1", "query", "DB", "SELECT ? AS n, ? AS s, ? AS z, ? AS b, ? AS f, ? AS q", "--param", "1", "--param", "x", "--param", "null", "--param", "true", "--param", "1.5", "--param", `"2"`, "-o", "json")
	step(0, "2 statement(s) run, 2 row(s) changed", "d1", "query", "DB", "INSERT INTO settings VALUES ('a', 'b'); DELETE FROM settings WHERE key = 'a'")
	script := filepath.Join(t.TempDir(), "script.sql")
	os.WriteFile(script, []byte("INSERT INTO settings VALUES ('c', 'd');\n\nINSERT INTO nowhere VALUES (1);\n"), 0o644)
	step(1, "line 3: d1: statement 2: no such table: nowhere: SQLITE_ERROR", "d1", "query", "DB", "--file", script)
	step(0, "count(*)\n0\n", "d1", "query", "DB", "SELECT count(*) FROM settings WHERE key = 'c'", "-o", "csv") // nothing half-applied
	many := "SELECT " + strings.TrimSuffix(strings.Repeat("?,", 101), ",")
	args := []string{"d1", "query", "DB", many}
	for range 101 {
		args = append(args, "--param", "1")
	}
	step(2, "MaxParams", args...)
	step(2, "no D1 database \"NOPE\"", "d1", "query", "NOPE", "SELECT 1")
	step(2, "give SQL or --file", "d1", "query", "DB", "SELECT 1", "--file", script)
	step(2, "give the SQL", "d1", "query", "DB")
	step(2, "-o xml", "d1", "query", "DB", "SELECT 1", "-o", "xml")
	step(2, "--param binds one statement", "d1", "query", "DB", "SELECT 1; SELECT 2", "--param", "1")
	step(2, "--file", "d1", "query", "DB", "--file", filepath.Join(t.TempDir(), "missing.sql"))

	// The d1:// reference resolves now.
	if code, out, _ := runCLI(t, env, "validate", "-o", "json"); code != 0 || strings.Contains(out, "ref-unresolved") || strings.Contains(out, "not checked") {
		t.Errorf("validate after migrations: %d\n%s", code, out)
	}

	// Export, then import into another database.
	step(0, "exported quantum-db to r2://quantum-files/backups/db.sql", "d1", "export", "DB", "--to", "r2://FILES/backups/db.sql")
	step(0, "imported r2://quantum-files/backups/db.sql into other-db", "d1", "import", "OTHER", "--from", "r2://quantum-files/backups/db.sql")
	step(0, "theme,dark", "d1", "query", "OTHER", "SELECT key, value FROM settings ORDER BY key", "-o", "csv")
	step(1, "not empty", "d1", "import", "OTHER", "--from", "r2://quantum-files/backups/db.sql")
	step(2, "r2://BUCKET/KEY is required", "d1", "export", "DB")
	step(2, "r2://BUCKET/KEY is required", "d1", "import", "DB")
	step(2, "expected r2://BUCKET/KEY", "d1", "export", "DB", "--to", "kv://X/y")
	// A migration folder with a gap names both files.
	os.WriteFile(filepath.Join(filepath.Dir(path), "0003_late.sql"), []byte("SELECT 1;"), 0o644)
	step(1, "gap between 0001_init.sql and 0003_late.sql", "d1", "migrations", "apply", "DB")
	step(1, "gap between", "d1", "migrations", "create", "DB", "next")
	step(2, "--local or --remote", "d1", "query", "DB", "SELECT 1", "--local", "--remote")
}

// TestD1_Remote runs query and migrations against the emulator's D1.
func TestD1_Remote(t *testing.T) {
	emu, err := cfemu.New(cfemu.Options{Token: canaryToken, Clock: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	defer srv.Close()
	defer emu.Close()
	env := map[string]string{
		"CLOUDFLARE_API_BASE_URL": srv.URL + "/client/v4",
		"CLOUDFLARE_API_TOKEN":    canaryToken,
		"CLOUDFLARE_ACCOUNT_ID":   "0123456789abcdef0123456789abcdef",
		"EDGECONF_CONFIG":         writeConfig(t, d1Config),
	}
	code, _, errOut := runCLI(t, env, "d1", "query", "DB", "SELECT 1", "--remote")
	if code != 1 || !strings.Contains(errOut, `d1 database "quantum-db"`) {
		t.Fatalf("query of a missing remote database: %d %s", code, errOut)
	}
	c, err := cloudflare.New(cloudflare.Options{BaseURL: env["CLOUDFLARE_API_BASE_URL"], Token: canaryToken, AccountID: env["CLOUDFLARE_ACCOUNT_ID"]})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.EnsureDatabase(context.Background(), "quantum-db"); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(filepath.Dir(env["EDGECONF_CONFIG"]), "migrations")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "0001_init.sql"), []byte("CREATE TABLE t (a);\nINSERT INTO t VALUES ('x');\n"), 0o644)
	if code, out, errOut := runCLI(t, env, "d1", "migrations", "apply", "DB", "--remote"); code != 0 || out != "applied 0001_init.sql\n" || !strings.Contains(errOut, "d1 database quantum-db") {
		t.Fatalf("remote apply: %d %q %q", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, env, "d1", "query", "DB", "SELECT a FROM t", "--remote", "-o", "csv"); code != 0 || out != "a\nx\n" {
		t.Fatalf("remote query: %d %q %q", code, out, errOut)
	}
	code, _, errOut = runCLI(t, env, "d1", "query", "DB", "SELECT * FROM nope", "--remote")
	if code != 1 || !strings.Contains(errOut, "no such table: nope") || !strings.Contains(errOut, "code 7500") {
		t.Fatalf("remote SQL error: %d %s", code, errOut)
	}
	delete(env, "CLOUDFLARE_API_TOKEN")
	if code, _, errOut := runCLI(t, env, "d1", "query", "DB", "SELECT 1", "--remote"); code != 2 || !strings.Contains(errOut, "CLOUDFLARE_API_TOKEN") {
		t.Fatalf("no token: %d %s", code, errOut)
	}
}

// TestD1Query_Cache: --cache answers a repeated read from KV, a write
// through it invalidates, and a TTL under KV's minimum is a usage error.
func TestD1Query_Cache(t *testing.T) {
	env := map[string]string{"EDGECONF_STATE_DIR": filepath.Join(t.TempDir(), "state")}
	run := func(want int, args ...string) (string, string) {
		t.Helper()
		code, out, errOut := runCLI(t, env, append(args, "-c", example)...)
		if code != want {
			t.Fatalf("%v: exit %d, want %d\n%s\n%s", args, code, want, out, errOut)
		}
		return out, errOut
	}
	run(0, "d1", "query", "DB", "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2);")
	out, errOut := run(0, "d1", "query", "DB", "SELECT count(*) AS n FROM t", "--cache", "5m")
	if !strings.Contains(out, "2") || !strings.Contains(errOut, "0 hit(s), 1 miss(es)") {
		t.Fatalf("first cached read: %s / %s", out, errOut)
	}
	out, errOut = run(0, "d1", "query", "DB", "SELECT count(*) AS n FROM t", "--cache", "5m")
	if !strings.Contains(out, "2") || !strings.Contains(errOut, "1 hit(s), 0 miss(es)") {
		t.Fatalf("second cached read: %s / %s", out, errOut)
	}
	_, errOut = run(0, "d1", "query", "DB", "INSERT INTO t VALUES (3)", "--cache", "5m")
	if !strings.Contains(errOut, "1 invalidation(s)") {
		t.Fatalf("a write through the cache: %s", errOut)
	}
	out, errOut = run(0, "d1", "query", "DB", "SELECT count(*) AS n FROM t", "--cache", "5m", "-q")
	if !strings.Contains(out, "3") || strings.Contains(errOut, "d1 cache") {
		t.Fatalf("read after the write (quiet): %s / %s", out, errOut)
	}
	run(exitUsage, "d1", "query", "DB", "SELECT 1", "--cache", "30s")
	run(exitUsage, "d1", "query", "DB", "SELECT 1", "--cache", "5m", "--cache-kv", "NOPE")

	// The runs' counters add up in KV, and the monitor's D1 probe reports
	// them (and so do serve's /metrics).
	out, _ = run(0, "monitor", "--once", "-o", "json")
	var sts []struct {
		Name   string
		Gauges map[string]float64
	}
	if err := json.Unmarshal([]byte(out), &sts); err != nil {
		t.Fatalf("monitor -o json: %v\n%s", err, out)
	}
	var g map[string]float64
	for _, st := range sts {
		if st.Name == "d1" {
			g = st.Gauges
		}
	}
	if g["d1.cache_hits"] != 1 || g["d1.cache_misses"] != 2 || g["d1.cache_invalidations"] != 1 {
		t.Errorf("the monitor's D1 figures: %v\n%s", g, out)
	}
	out, _ = run(0, "monitor", "--once")
	if !strings.Contains(out, "FIGURES") || !strings.Contains(out, "d1.cache_hits=1") {
		t.Errorf("monitor table without the cache figures:\n%s", out)
	}
}
