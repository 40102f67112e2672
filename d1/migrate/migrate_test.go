package migrate_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/d1"
	"github.com/factory-wager/edgeconf/d1/migrate"
	"github.com/factory-wager/edgeconf/d1/sqlite"
	"github.com/factory-wager/edgeconf/internal/testtool"
)

func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func open(t *testing.T, dir, name string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), sqlite.Options{Dir: dir, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestList_BadFolders(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"duplicate", map[string]string{"0001_a.sql": "", "0001_b.sql": ""}, []string{"0001_a.sql and 0001_b.sql have the same number 1"}},
		{"gap", map[string]string{"0001_a.sql": "", "0004_b.sql": ""}, []string{"gap between 0001_a.sql and 0004_b.sql (missing 0002 to 0003)"}},
		{"gap of one", map[string]string{"0001_a.sql": "", "0003_b.sql": ""}, []string{"(missing 0002)"}},
		{"bad name", map[string]string{"init.sql": "", "0001_a.sql": ""}, []string{"init.sql is not named NNNN_name.sql"}},
		{"huge number", map[string]string{"99999999_a.sql": ""}, []string{"too large"}},
		{"all at once", map[string]string{"x.sql": "", "0001_a.sql": "", "0001_b.sql": "", "0005_c.sql": ""}, []string{"x.sql", "same number", "gap"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, tc.files)
			_, err := migrate.List(dir)
			var fe *migrate.FolderError
			if !errors.As(err, &fe) {
				t.Fatalf("List = %v, want *FolderError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("List error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestList_IgnoresOtherFilesAndMissingFolder(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{"README.md": "", "0002_b.sql": "", "0001_a.sql": ""})
	if err := os.Mkdir(filepath.Join(dir, "0003_dir.sql"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := migrate.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "0001_a.sql" || got[1].Name != "0002_b.sql" {
		t.Fatalf("List = %+v", got)
	}
	if got, err := migrate.List(filepath.Join(dir, "nope")); err != nil || got != nil {
		t.Fatalf("List(missing) = %v, %v; want none", got, err)
	}
}

func TestCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "migrations")
	now := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)
	m, err := migrate.Create(dir, "create users", now)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "0001_create_users.sql" {
		t.Errorf("name = %q", m.Name)
	}
	b, _ := os.ReadFile(m.Path)
	if string(b) != "-- Migration number: 0001 \t 2026-01-02T03:04:05.006Z\n" {
		t.Errorf("header = %q", b)
	}
	m, err = migrate.Create(dir, "two", now)
	if err != nil || m.Number != 2 {
		t.Fatalf("second = %+v, %v", m, err)
	}
	for _, bad := range []string{"", "a/b", "x\x1b[31m"} {
		if _, err := migrate.Create(dir, bad, now); err == nil {
			t.Errorf("Create(%q) succeeded", bad)
		}
	}
	write(t, dir, map[string]string{"0002_dup.sql": ""})
	if _, err := migrate.Create(dir, "three", now); err == nil {
		t.Error("Create in a folder with duplicates succeeded")
	}
}

func TestApplyPending(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	dir := filepath.Join(root, "migrations")
	write(t, dir, map[string]string{
		"0001_init.sql": "-- Migration number: 0001\nCREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT);\nINSERT INTO a (v) VALUES ('x;y');\n",
		"0002_more.sql": "CREATE TABLE b (id INTEGER);\n",
	})
	db := open(t, filepath.Join(root, "d1"), "db")
	st, err := migrate.Statuses(ctx, db, dir)
	if err != nil || len(st) != 2 || st[0].Applied != nil {
		t.Fatalf("Statuses before = %+v, %v", st, err)
	}
	var seen []string
	done, err := migrate.ApplyPending(ctx, db, dir, migrate.Options{OnApplied: func(m migrate.Migration) { seen = append(seen, m.Name) }})
	if err != nil || len(done) != 2 || !reflect.DeepEqual(seen, []string{"0001_init.sql", "0002_more.sql"}) {
		t.Fatalf("ApplyPending = %+v, %v (seen %v)", done, err, seen)
	}
	applied, err := migrate.AppliedList(ctx, db)
	if err != nil || len(applied) != 2 || applied[0].Name != "0001_init.sql" || applied[1].ID != 2 || applied[0].AppliedAt == "" {
		t.Fatalf("AppliedList = %+v, %v", applied, err)
	}
	// Nothing pending: nothing runs again.
	if done, err := migrate.ApplyPending(ctx, db, dir, migrate.Options{}); err != nil || len(done) != 0 {
		t.Fatalf("second ApplyPending = %+v, %v", done, err)
	}

	// A failing migration names file and line, keeps earlier ones, leaves nothing of itself.
	write(t, dir, map[string]string{
		"0003_ok.sql":    "CREATE TABLE c (id INTEGER);",
		"0004_bad.sql":   "CREATE TABLE d (id INTEGER);\n\n-- oops\nINSERT INTO nowhere VALUES (1);\n",
		"0005_never.sql": "CREATE TABLE e (id INTEGER);",
	})
	done, err = migrate.ApplyPending(ctx, db, dir, migrate.Options{})
	var fe *migrate.FileError
	if !errors.As(err, &fe) || fe.Line != 4 || !strings.HasSuffix(fe.File, "0004_bad.sql") || !strings.Contains(err.Error(), "0004_bad.sql:4: ") || !strings.Contains(err.Error(), "no such table: nowhere") {
		t.Fatalf("ApplyPending error = %v, want 0004_bad.sql:4 no such table", err)
	}
	if len(done) != 1 || done[0].Name != "0003_ok.sql" {
		t.Errorf("applied before the failure = %+v", done)
	}
	for table, want := range map[string]int{"c": 1, "d": 0, "e": 0} {
		res, err := db.Query(ctx, "SELECT count(*) FROM sqlite_master WHERE name = ?", table)
		if err != nil || res.Rows[0][0] != int64(want) {
			t.Errorf("table %s exists %v, want %d (%v)", table, res.Rows, want, err)
		}
	}
	pending, _ := migrate.Pending(ctx, db, dir)
	if len(pending) != 2 || pending[0].Name != "0004_bad.sql" {
		t.Errorf("pending = %+v", pending)
	}

	// A bad folder touches nothing.
	write(t, dir, map[string]string{"0009_gap.sql": "CREATE TABLE z (id INTEGER);"})
	if _, err := migrate.ApplyPending(ctx, db, dir, migrate.Options{}); !errors.As(err, new(*migrate.FolderError)) {
		t.Fatalf("ApplyPending with a gap = %v", err)
	}
}

func TestApplyPending_FileLimit(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{"0001_big.sql": strings.Repeat("-", migrate.MaxFileBytes+1)})
	db := open(t, t.TempDir(), "db")
	_, err := migrate.ApplyPending(context.Background(), db, dir, migrate.Options{})
	if err == nil || !strings.Contains(err.Error(), "MaxFileBytes") {
		t.Fatalf("error = %v, want MaxFileBytes", err)
	}
}

// TestParity_Wrangler applies one folder with wrangler and with edgeconf:
// both databases hold the same tables and the same d1_migrations rows,
// and each tool continues what the other started.
func TestParity_Wrangler(t *testing.T) {
	wrangler := testtool.Require(t, "wrangler", "make tools")
	ctx := context.Background()
	root := t.TempDir()
	write(t, filepath.Join(root, "migrations"), map[string]string{
		"0001_init.sql": "-- Migration number: 0001\nCREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT);\nINSERT INTO a (v) VALUES ('x;y');\n",
		"0002_trig.sql": "CREATE TABLE log (v TEXT);\nCREATE TRIGGER a_log AFTER INSERT ON a BEGIN INSERT INTO log VALUES (new.v); END;\n",
	})
	toml := "name = \"t\"\ncompatibility_date = \"2025-01-01\"\n[[d1_databases]]\nbinding = \"DB\"\ndatabase_name = \"quantum-db\"\ndatabase_id = \"00000000-0000-0000-0000-000000000001\"\n"
	write(t, root, map[string]string{"wrangler.toml": toml})
	runWrangler := func() {
		t.Helper()
		cmd := exec.CommandContext(ctx, wrangler, "d1", "migrations", "apply", "quantum-db", "--local")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "WRANGLER_SEND_METRICS=false", "CI=true", "HOME="+root)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("wrangler: %v\n%s", err, out)
		}
	}
	runWrangler()
	wdb := openWrangler(t, root)

	ours := open(t, filepath.Join(root, ".edgeconf", "d1"), "quantum-db")
	if _, err := migrate.ApplyPending(ctx, ours, filepath.Join(root, "migrations"), migrate.Options{}); err != nil {
		t.Fatal(err)
	}
	compare(t, wdb, ours)

	// A third migration: edgeconf continues wrangler's database...
	write(t, filepath.Join(root, "migrations"), map[string]string{"0003_b.sql": "CREATE TABLE b (id INTEGER);\nINSERT INTO a (v) VALUES ('z');\n"})
	done, err := migrate.ApplyPending(ctx, wdb, filepath.Join(root, "migrations"), migrate.Options{})
	if err != nil || len(done) != 1 || done[0].Name != "0003_b.sql" {
		t.Fatalf("edgeconf on wrangler's database = %+v, %v", done, err)
	}
	wdb.Close()
	// ... and wrangler finds nothing left to do on it.
	runWrangler()
	wdb = openWrangler(t, root)
	if _, err := migrate.ApplyPending(ctx, ours, filepath.Join(root, "migrations"), migrate.Options{}); err != nil {
		t.Fatal(err)
	}
	compare(t, wdb, ours)
}

func openWrangler(t *testing.T, root string) *sqlite.DB {
	t.Helper()
	dir := filepath.Join(root, ".wrangler", "state", "v3", "d1", "miniflare-D1DatabaseObject")
	files, _ := filepath.Glob(filepath.Join(dir, "*.sqlite"))
	for _, f := range files {
		if filepath.Base(f) != "metadata.sqlite" {
			return open(t, dir, strings.TrimSuffix(filepath.Base(f), ".sqlite"))
		}
	}
	t.Fatalf("no wrangler database in %s (%v)", dir, files)
	return nil
}

func compare(t *testing.T, wdb, ours d1.DB) {
	t.Helper()
	ctx := context.Background()
	q := func(db d1.DB, sql string) [][]any {
		res, err := db.Query(ctx, sql)
		if err != nil {
			t.Fatal(err)
		}
		return res.Rows
	}
	schema := "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' ORDER BY name"
	if w, o := q(wdb, schema), q(ours, schema); !reflect.DeepEqual(w, o) {
		t.Errorf("schema differs:\nwrangler %v\nedgeconf %v", w, o)
	}
	for _, sql := range []string{"SELECT id, name FROM d1_migrations ORDER BY id", "SELECT * FROM a ORDER BY id", "SELECT * FROM log"} {
		if w, o := q(wdb, sql), q(ours, sql); !reflect.DeepEqual(w, o) {
			t.Errorf("%s differs:\nwrangler %v\nedgeconf %v", sql, w, o)
		}
	}
}

func TestDirFor(t *testing.T) {
	for _, tc := range []struct{ cfg, dir, want string }{
		{"cloudflare-config.yaml", "", "migrations"},
		{"app/cloudflare-config.yaml", "", "app/migrations"},
		{"app/c.yaml", "db/migrations", "app/db/migrations"},
		{"app/c.yaml", "/abs/m", "/abs/m"},
	} {
		if got := migrate.DirFor(tc.cfg, tc.dir); got != tc.want {
			t.Errorf("DirFor(%q, %q) = %q, want %q", tc.cfg, tc.dir, got, tc.want)
		}
	}
}
