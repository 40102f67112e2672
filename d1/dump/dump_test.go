package dump_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/factory-wager/edgeconf/cfemu"
	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/d1"
	"github.com/factory-wager/edgeconf/d1/dump"
	"github.com/factory-wager/edgeconf/d1/sqlite"
	"github.com/factory-wager/edgeconf/objstore"
	"github.com/factory-wager/edgeconf/objstore/localfs"
)

func open(t *testing.T) d1.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), sqlite.Options{Dir: t.TempDir(), Name: "db"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func remote(t *testing.T) d1.DB {
	t.Helper()
	emu, err := cfemu.New(cfemu.Options{Token: "test-token-0123456789", RateLimit: -1})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { srv.Close(); emu.Close() })
	c, err := cloudflare.New(cloudflare.Options{BaseURL: srv.URL + "/client/v4", Token: "test-token-0123456789", AccountID: "0123456789abcdef0123456789abcdef"})
	if err != nil {
		t.Fatal(err)
	}
	info, _, err := c.EnsureDatabase(context.Background(), "restore")
	if err != nil {
		t.Fatal(err)
	}
	return c.D1(info)
}

const seed = `
CREATE TABLE d1_migrations(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL);
INSERT INTO d1_migrations (name, applied_at) VALUES ('0001_init.sql', '2026-01-01 00:00:00'), ('0002_z.sql', '2026-01-02T03:04:05Z');
CREATE TABLE "user s" (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL, avatar BLOB, note);
CREATE TABLE orders (id INTEGER PRIMARY KEY, uid INTEGER REFERENCES "user s"(id), total REAL);
INSERT INTO "user s" VALUES (1, 'O''Brien; -- not a comment', 2.0, X'00ff', NULL);
INSERT INTO "user s" VALUES (2, 'línea
dos', -1.5e300, NULL, 42);
INSERT INTO orders VALUES (1, 1, 9.99);
CREATE INDEX orders_uid ON orders (uid);
CREATE VIEW big AS SELECT * FROM orders WHERE total > 5;
CREATE TRIGGER t_ins AFTER INSERT ON orders BEGIN UPDATE "user s" SET note = 'buyer' WHERE id = new.uid; END;
`

func snapshot(t *testing.T, db d1.DB) map[string][][]any {
	t.Helper()
	ctx := context.Background()
	out := map[string][][]any{}
	for name, sql := range map[string]string{
		"schema": "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' ORDER BY name",
		// quote(): the stored values and types, whatever JSON makes of 2.0
		"users":      `SELECT quote(id), quote(name), quote(score), quote(avatar), quote(note) FROM "user s" ORDER BY id`,
		"orders":     "SELECT quote(id), quote(uid), quote(total) FROM orders ORDER BY id",
		"migrations": "SELECT quote(id), quote(name), quote(applied_at) FROM d1_migrations",
	} {
		res, err := db.Query(ctx, sql)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = res.Rows
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	src := open(t)
	if _, err := d1.Exec(ctx, src, seed); err != nil {
		t.Fatal(err)
	}
	// More rows than a page, to cross page boundaries.
	if _, err := src.Query(ctx, "WITH RECURSIVE n(i) AS (SELECT 10 UNION ALL SELECT i+1 FROM n WHERE i < 1300) INSERT INTO \"user s\" (id, name) SELECT i, 'u' || i FROM n"); err != nil {
		t.Fatal(err)
	}
	store, err := localfs.Open(localfs.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dump.ExportTo(ctx, src, store, "backups/db.sql"); err != nil {
		t.Fatal(err)
	}
	want := snapshot(t, src)
	for name, dst := range map[string]d1.DB{"local": open(t), "emulator": remote(t)} {
		t.Run(name, func(t *testing.T) {
			st, err := dump.ImportFrom(ctx, dst, store, "backups/db.sql")
			if err != nil {
				t.Fatal(err)
			}
			if st.Statements < 1300 {
				t.Errorf("statements = %d", st.Statements)
			}
			if got := snapshot(t, dst); !reflect.DeepEqual(got, want) {
				for k := range want {
					if !reflect.DeepEqual(got[k], want[k]) {
						t.Errorf("%s differs after the round trip:\n got %v\nwant %v", k, got[k][:min(3, len(got[k]))], want[k][:min(3, len(want[k]))])
					}
				}
			}
			// Importing again: the database is no longer empty.
			if _, err := dump.ImportFrom(ctx, dst, store, "backups/db.sql"); !errors.Is(err, dump.ErrNotEmpty) {
				t.Errorf("second import = %v, want ErrNotEmpty", err)
			}
		})
	}
	if _, err := dump.ImportFrom(ctx, open(t), store, "missing.sql"); err == nil || !strings.Contains(err.Error(), "missing.sql") {
		t.Errorf("missing object: %v", err)
	}
}

func TestImport_Refuses(t *testing.T) {
	ctx := context.Background()
	var good bytes.Buffer
	src := open(t)
	if _, err := d1.Exec(ctx, src, seed); err != nil {
		t.Fatal(err)
	}
	if err := dump.Export(ctx, src, &good); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, body, want string
		sentinel         error
	}{
		{"not ours", "CREATE TABLE x (a);\n", "not an edgeconf d1 dump: its first line is \"CREATE TABLE x (a);\"", dump.ErrNotDump},
		{"sqlite3 .dump", "PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n", "PRAGMA foreign_keys=OFF;", dump.ErrNotDump},
		{"empty", "", "not an edgeconf d1 dump", dump.ErrNotDump},
		{"truncated", good.String()[:strings.LastIndex(good.String()[:good.Len()/2], "\n")+1], "truncated", dump.ErrNotDump},
		{"bad statement", dump.Header + "\nCREATE TABLE a (x);\nINSERT INTO a VALUES (1);\nINSERT INTO nope VALUES (1);\n" + dump.Trailer + "\n", "dump line 4: ", nil},
		{"unterminated quote", dump.Header + "\nCREATE TABLE a (x);\nINSERT INTO a VALUES ('oops);\n", "unterminated", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := open(t)
			_, err := dump.Import(ctx, db, strings.NewReader(tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Import = %v, want %q", err, tc.want)
			}
			if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
				t.Errorf("Import = %v, want %v", err, tc.sentinel)
			}
			// Nothing half-applied: the database is still empty.
			res, qerr := db.Query(ctx, "SELECT count(*) FROM sqlite_master")
			if qerr != nil || res.Rows[0][0] != int64(0) {
				t.Errorf("after a failed import sqlite_master has %v objects (%v)", res.Rows, qerr)
			}
		})
	}
}

func TestLiteral(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{nil, "NULL"}, {int64(-3), "-3"}, {2.0, "2.0"}, {1.5e300, "1.5e+300"}, {[]byte{0, 255}, "X'00ff'"},
		{"it's", "'it''s'"}, {true, "'true'"},
	} {
		if got := dump.Literal(tc.v); got != tc.want {
			t.Errorf("Literal(%#v) = %s, want %s", tc.v, got, tc.want)
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

type failDB struct{ d1.DB }

func (failDB) Query(context.Context, string, ...any) (d1.Result, error) {
	return d1.Result{}, errors.New("db down")
}

func TestExport_Errors(t *testing.T) {
	ctx := context.Background()
	src := open(t)
	if _, err := d1.Exec(ctx, src, seed); err != nil {
		t.Fatal(err)
	}
	if err := dump.Export(ctx, src, failWriter{}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Export to a failing writer = %v", err)
	}
	if err := dump.Export(ctx, failDB{src}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "db down") {
		t.Errorf("Export of a failing db = %v", err)
	}
	if _, err := dump.Import(ctx, failDB{src}, strings.NewReader(dump.Header+"\n")); err == nil {
		t.Error("Import into a failing db succeeded")
	}
	store, _ := localfs.Open(localfs.Options{Dir: t.TempDir()})
	if _, err := dump.ExportTo(ctx, failDB{src}, store, "x.sql"); err == nil {
		t.Error("ExportTo of a failing db succeeded")
	}
	if _, _, err := store.Get(ctx, "x.sql", objstore.GetOptions{}); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("a failed export left an object: %v", err)
	}
	if _, err := dump.Import(ctx, open(t), errReader{}); err == nil {
		t.Error("Import of a failing reader succeeded")
	}
	if _, err := dump.Import(ctx, open(t), io.MultiReader(strings.NewReader(dump.Header+"\nCREATE TABLE a (x);\n"), errReader{})); err == nil || !strings.Contains(err.Error(), "nothing imported") {
		t.Errorf("Import cut by a read error = %v", err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("network cut") }

// FuzzImport feeds any bytes to Import: it never panics, and whatever
// fails leaves the database empty.
func FuzzImport(f *testing.F) {
	f.Add(dump.Header + "\nCREATE TABLE a (x);\nINSERT INTO a VALUES ('y;');\n" + dump.Trailer + "\n")
	f.Add(dump.Header + "\nCREATE TABLE a (x);\n")
	f.Add("not a dump")
	f.Add(dump.Header + "\nCREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1;")
	db := openF(f)
	f.Fuzz(func(t *testing.T, s string) {
		ctx := context.Background()
		_, err := dump.Import(ctx, db, strings.NewReader(s))
		if err != nil {
			res, qerr := db.Query(ctx, "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
			if qerr != nil || res.Rows[0][0] != int64(0) {
				t.Fatalf("failed import of %q left %v objects (%v)", s, res.Rows, qerr)
			}
			return
		}
		// Success: empty the database for the next input.
		objs, _ := db.Query(ctx, "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' AND type IN ('table', 'view')")
		for _, o := range objs.Rows {
			_, _ = db.Query(ctx, "DROP "+o[0].(string)+" IF EXISTS \""+strings.ReplaceAll(o[1].(string), `"`, `""`)+"\"")
		}
	})
}

func openF(f *testing.F) d1.DB {
	db, err := sqlite.Open(context.Background(), sqlite.Options{Dir: f.TempDir(), Name: "fuzz"})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	return db
}
