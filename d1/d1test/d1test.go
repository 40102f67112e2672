// Package d1test is the conformance suite every d1.DB backend passes: the
// local SQLite files, the Cloudflare client against the emulator, and
// (by hand) the Cloudflare client against real D1.
package d1test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/factory-wager/edgeconf/d1"
)

// Options says what a backend reports.
type Options struct {
	// Remote is true for Cloudflare's API: SQL errors carry code 7500 and
	// do not say which statement of a batch failed.
	Remote bool
}

// Run runs the suite; open returns a new, empty database for each test.
func Run(t *testing.T, opts Options, open func(t *testing.T) d1.DB) {
	ctx := context.Background()
	mk := func(t *testing.T) d1.DB {
		t.Helper()
		db := open(t)
		t.Cleanup(func() { db.Close() })
		if _, err := db.Query(ctx, "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL, tag TEXT)"); err != nil {
			t.Fatalf("create table: %v", err)
		}
		return db
	}

	t.Run("QueryParamsAndTypes", func(t *testing.T) {
		db := mk(t)
		res, err := db.Query(ctx, "INSERT INTO t (name, score, tag) VALUES (?, ?, ?)", "ada", 2.5, nil)
		if err != nil {
			t.Fatalf("insert: %v", err)
		}
		if res.Meta.Changes != 1 || res.Meta.LastRowID != 1 || res.Meta.RowsWritten < 1 {
			t.Errorf("insert meta = %+v, want 1 change, last row id 1, rows written ≥ 1", res.Meta)
		}
		res, err = db.Query(ctx, "SELECT id, name, score, tag, ?1 AS flag, ?2 AS n FROM t WHERE name = ?3", true, int32(7), "ada")
		if err != nil {
			t.Fatalf("select: %v", err)
		}
		want := []any{int64(1), "ada", 2.5, nil, int64(1), int64(7)}
		if len(res.Rows) != 1 || !reflect.DeepEqual(res.Rows[0], want) {
			t.Fatalf("rows = %#v, want [%#v]", res.Rows, want)
		}
		if cols := strings.Join(res.Columns, ","); cols != "id,name,score,tag,flag,n" {
			t.Errorf("columns = %s", cols)
		}
		if obj := res.Objects(); obj[0]["name"] != "ada" {
			t.Errorf("Objects()[0] = %v", obj[0])
		}
		if res.Meta.Changes != 0 {
			t.Errorf("select changes = %d, want 0", res.Meta.Changes)
		}
	})

	t.Run("RawRowsKeepOrderAndDuplicates", func(t *testing.T) {
		db := mk(t)
		res, err := db.Query(ctx, "SELECT 1 AS a, 2 AS a, 'x' AS b")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(res.Columns, []string{"a", "a", "b"}) || !reflect.DeepEqual(res.Rows, [][]any{{int64(1), int64(2), "x"}}) {
			t.Errorf("raw = %v %v", res.Columns, res.Rows)
		}
	})

	t.Run("EmptyResult", func(t *testing.T) {
		db := mk(t)
		res, err := db.Query(ctx, "SELECT id FROM t")
		if err != nil {
			t.Fatal(err)
		}
		if res.Rows == nil || len(res.Rows) != 0 {
			t.Errorf("rows = %#v, want empty, not nil", res.Rows)
		}
	})

	t.Run("BlobAndUnicode", func(t *testing.T) {
		db := mk(t)
		res, err := db.Query(ctx, "SELECT X'00FF10' AS b, ? AS s", "héllo ✓")
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Rows[0]; !reflect.DeepEqual(got[0], []byte{0, 255, 16}) || got[1] != "héllo ✓" {
			t.Errorf("row = %#v", got)
		}
	})

	t.Run("BatchIsOneTransaction", func(t *testing.T) {
		db := mk(t)
		_, err := db.Batch(ctx, []d1.Statement{
			{SQL: "INSERT INTO t (name) VALUES (?)", Params: []any{"a"}},
			{SQL: "INSERT INTO missing (x) VALUES (1)"},
		})
		var se *d1.SQLError
		if !errors.As(err, &se) {
			t.Fatalf("batch error = %v, want *d1.SQLError", err)
		}
		if !strings.Contains(se.Message, "no such table: missing") {
			t.Errorf("message = %q, want SQLite's", se.Message)
		}
		if opts.Remote && se.Code != d1.CodeSQL {
			t.Errorf("code = %d, want %d", se.Code, d1.CodeSQL)
		}
		if !opts.Remote && se.Statement != 1 {
			t.Errorf("statement = %d, want 1", se.Statement)
		}
		if n := count(t, db); n != 0 {
			t.Errorf("rows after failed batch = %d, want 0 (nothing half-applied)", n)
		}
		res, err := db.Batch(ctx, []d1.Statement{
			{SQL: "INSERT INTO t (name) VALUES (?)", Params: []any{"a"}},
			{SQL: "INSERT INTO t (name) VALUES (?)", Params: []any{"b"}},
			{SQL: "SELECT count(*) AS n FROM t"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 3 || res[1].Meta.LastRowID != 2 || res[2].Rows[0][0] != int64(2) {
			t.Errorf("batch results = %+v", res)
		}
	})

	t.Run("SQLError", func(t *testing.T) {
		db := mk(t)
		_, err := db.Query(ctx, "SELEC nonsense")
		var se *d1.SQLError
		if !errors.As(err, &se) || !strings.Contains(se.Message, "syntax error") || !strings.Contains(se.Message, "SQLITE_ERROR") {
			t.Fatalf("error = %v, want a syntax error with SQLITE_ERROR", err)
		}
	})

	t.Run("Limits", func(t *testing.T) {
		db := mk(t)
		params := make([]any, d1.MaxParams+1)
		q := "SELECT " + strings.TrimSuffix(strings.Repeat("?,", len(params)), ",")
		for i := range params {
			params[i] = i
		}
		_, err := db.Query(ctx, q, params...)
		var le *d1.LimitError
		if !errors.As(err, &le) || le.Limit != "MaxParams" || !strings.Contains(err.Error(), "101") {
			t.Errorf("101 params: error = %v, want MaxParams", err)
		}
		if _, err := db.Query(ctx, q[:len(q)-2], params[:d1.MaxParams]...); err != nil {
			t.Errorf("100 params: %v", err)
		}
		long := "SELECT '" + strings.Repeat("x", d1.MaxStatementBytes) + "'"
		if _, err := db.Query(ctx, long); !errors.As(err, &le) || le.Limit != "MaxStatementBytes" {
			t.Errorf("long statement: error = %v, want MaxStatementBytes", err)
		}
		if _, err := db.Query(ctx, "SELECT ?", struct{}{}); !errors.As(err, &le) || le.Limit != "ParamType" {
			t.Errorf("struct param: error = %v, want ParamType", err)
		}
		if _, err := db.Batch(ctx, nil); !errors.As(err, &le) {
			t.Errorf("empty batch: error = %v, want a LimitError", err)
		}
	})

	t.Run("ScriptNamesLine", func(t *testing.T) {
		db := mk(t)
		_, err := d1.Exec(ctx, db, "INSERT INTO t (name) VALUES ('a');\n-- two\nINSERT INTO nope VALUES (1);\n")
		var se *d1.ScriptError
		if opts.Remote {
			if err == nil {
				t.Fatal("script with a bad statement succeeded")
			}
		} else if !errors.As(err, &se) || se.Line != 3 {
			t.Fatalf("error = %v, want line 3", err)
		}
		if n := count(t, db); n != 0 {
			t.Errorf("rows = %d, want 0", n)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		db := mk(t)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 5 {
					if _, err := db.Query(ctx, "INSERT INTO t (name) VALUES (?)", fmt.Sprintf("%d-%d", g, i)); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if n := count(t, db); n != 40 {
			t.Errorf("rows = %d, want 40", n)
		}
	})

	t.Run("Ping", func(t *testing.T) {
		db := mk(t)
		if _, err := d1.Ping(ctx, db, nil); err != nil {
			t.Fatal(err)
		}
	})
}

func count(t *testing.T, db d1.DB) int64 {
	t.Helper()
	res, err := db.Query(context.Background(), "SELECT count(*) FROM t")
	if err != nil {
		t.Fatal(err)
	}
	return res.Rows[0][0].(int64)
}
