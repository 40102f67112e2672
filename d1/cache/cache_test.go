package cache_test

import (
	"context"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/d1"
	"github.com/factory-wager/edgeconf/d1/cache"
	"github.com/factory-wager/edgeconf/d1/sqlite"
	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/kvstore/storetest"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		sql       string
		cacheable bool
		reads     []string
		writes    []string
		all       bool
	}{
		{sql: "SELECT * FROM users WHERE id = ?", cacheable: true, reads: []string{"users"}},
		{sql: "select u.name from Users u join \"Orders\" o on o.uid = u.id", cacheable: true, reads: []string{"users", "orders"}},
		{sql: "SELECT * FROM a, main.b AS x, c WHERE 1", cacheable: true, reads: []string{"a", "b", "c"}},
		{sql: "SELECT (SELECT count(*) FROM b) FROM a", cacheable: true, reads: []string{"b", "a"}},
		{sql: "WITH x AS (SELECT * FROM t) SELECT * FROM x", cacheable: true, reads: []string{"t", "x"}},
		{sql: "SELECT 1", cacheable: true},
		{sql: "-- comment\nSELECT 'INSERT INTO x' FROM [weird name]", cacheable: true, reads: []string{"weird name"}},
		{sql: "SELECT random()"},
		{sql: "SELECT datetime('now') FROM t", reads: []string{"t"}},
		{sql: "SELECT * FROM sqlite_master", reads: []string{"sqlite_master"}},
		{sql: "INSERT INTO users (n) VALUES (1)", writes: []string{"users"}},
		{sql: "INSERT OR REPLACE INTO main.Users VALUES (1)", writes: []string{"users"}},
		{sql: "REPLACE INTO t VALUES (1)", writes: []string{"t"}},
		{sql: "UPDATE OR IGNORE t SET a = 1", writes: []string{"t"}},
		{sql: "DELETE FROM t WHERE a IN (SELECT a FROM u)", reads: []string{"t", "u"}, writes: []string{"t"}},
		{sql: "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", reads: []string{"x"}, writes: []string{"t"}},
		{sql: "CREATE TABLE IF NOT EXISTS t (a)", writes: []string{"t"}},
		{sql: "DROP TABLE IF EXISTS t", writes: []string{"t"}},
		{sql: "ALTER TABLE t ADD COLUMN b", writes: []string{"t"}},
		{sql: "CREATE UNIQUE INDEX i ON t (a)", writes: []string{"t"}},
		{sql: "DROP INDEX i", writes: []string{}},
		{sql: "PRAGMA foreign_keys = on", all: true},
		{sql: "CREATE TRIGGER x AFTER INSERT ON t BEGIN DELETE FROM u; END", reads: []string{"u"}, all: true},
		{sql: "INSERT INTO t SELECT * FROM u RETURNING *", reads: []string{"u"}, writes: []string{"t"}},
		{sql: "", all: true},
	} {
		t.Run(tc.sql, func(t *testing.T) {
			a := cache.Classify(tc.sql)
			if a.Cacheable != tc.cacheable || !same(a.Reads, tc.reads) || a.WritesAll != tc.all || (!tc.all && !same(a.Writes, tc.writes)) {
				t.Errorf("Classify(%q) = %+v, want cacheable %v reads %v writes %v all %v", tc.sql, a, tc.cacheable, tc.reads, tc.writes, tc.all)
			}
		})
	}
}

func same(a, b []string) bool { return len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b)) }

type counting struct {
	d1.DB
	queries int
}

func (c *counting) Query(ctx context.Context, sql string, params ...any) (d1.Result, error) {
	c.queries++
	return c.DB.Query(ctx, sql, params...)
}

func setup(t *testing.T) (*cache.Cache, *counting, *storetest.Clock, kvstore.Store) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), sqlite.Options{Dir: t.TempDir(), Name: "db"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d1.Exec(context.Background(), db, "CREATE TABLE a (id INTEGER PRIMARY KEY, v); CREATE TABLE b (id INTEGER PRIMARY KEY, v); INSERT INTO a (v) VALUES (1.5), (X'00ff'), (NULL); INSERT INTO b (v) VALUES ('x');"); err != nil {
		t.Fatal(err)
	}
	clk := storetest.NewClock()
	kv := kvstore.NewMemory(clk.Now)
	cdb := &counting{DB: db}
	c, err := cache.New(cache.Options{DB: cdb, Store: kv, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, cdb, clk, kv
}

func TestCache_HitMissInvalidate(t *testing.T) {
	ctx := context.Background()
	c, db, clk, _ := setup(t)
	q := func(sql string, params ...any) d1.Result {
		t.Helper()
		res, err := c.Query(ctx, sql, params...)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	first := q("SELECT id, v FROM a ORDER BY id")
	second := q("SELECT id, v FROM a ORDER BY id")
	if !reflect.DeepEqual(first.Rows, second.Rows) || db.queries != 1 {
		t.Fatalf("cached rows %v vs %v, database queried %d times, want 1", first.Rows, second.Rows, db.queries)
	}
	if s := c.Stats(); s.Hits != 1 || s.Misses != 1 {
		t.Errorf("stats = %+v", s)
	}
	// Typed parameters: 1 and "1" are different queries.
	q("SELECT v FROM b WHERE id = ?", 1)
	q("SELECT v FROM b WHERE id = ?", "1")
	if db.queries != 3 {
		t.Errorf("queries = %d, want 3", db.queries)
	}
	// A write to b leaves a's entry alone and drops b's.
	q("INSERT INTO b (v) VALUES ('y')")
	q("SELECT id, v FROM a ORDER BY id")
	before := db.queries
	got := q("SELECT count(*) FROM b WHERE id >= ?", 1)
	if db.queries != before+1 || got.Rows[0][0] != int64(2) {
		t.Errorf("after write: rows %v, queries %d", got.Rows, db.queries-before)
	}
	q("SELECT v FROM b WHERE id = ?", 1)
	if s := c.Stats(); s.Invalidations != 2 {
		t.Errorf("invalidations = %d, want 2 (the two b queries)", s.Invalidations)
	}
	// A batch writing a invalidates a's query.
	if _, err := c.Batch(ctx, []d1.Statement{{SQL: "UPDATE a SET v = 2 WHERE id = 1"}}); err != nil {
		t.Fatal(err)
	}
	if res := q("SELECT id, v FROM a ORDER BY id"); res.Rows[0][1] != int64(2) {
		t.Errorf("after batch update: %v", res.Rows)
	}
	// An unplaceable statement flushes everything.
	q("PRAGMA user_version = 3")
	n := db.queries
	q("SELECT id, v FROM a ORDER BY id")
	if db.queries != n+1 {
		t.Error("PRAGMA did not flush the cache")
	}
	// TTL: an entry expires with the clock.
	n = db.queries
	q("SELECT id, v FROM a ORDER BY id")
	clk.Advance(2 * time.Minute)
	q("SELECT id, v FROM a ORDER BY id")
	if db.queries != n+1 {
		t.Errorf("queries after TTL = %d, want 1", db.queries-n)
	}
	// Non-cacheable reads always go to the database.
	n = db.queries
	q("SELECT random()")
	q("SELECT random()")
	if db.queries != n+2 {
		t.Error("random() was cached")
	}
}

func TestCache_TypesSurvive(t *testing.T) {
	c, _, _, _ := setup(t)
	const q = "SELECT v, 2.0 AS f, 1e999 AS inf, -1e999 AS ninf, 9007199254740993 AS big, -42 AS neg, 'text {\"f\":1}' AS s FROM a ORDER BY id"
	var first d1.Result
	for i := range 2 {
		res, err := c.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if res.Rows[0][0] != 1.5 || !reflect.DeepEqual(res.Rows[1][0], []byte{0, 255}) || res.Rows[2][0] != nil || res.Rows[0][1] != 2.0 ||
			res.Rows[0][2] != math.Inf(1) || res.Rows[0][3] != math.Inf(-1) || res.Rows[0][4] != int64(9007199254740993) ||
			res.Rows[0][5] != int64(-42) || res.Rows[0][6] != `text {"f":1}` {
			t.Fatalf("read %d: rows = %#v", i, res.Rows)
		}
		if i == 0 {
			first = res
		} else if !reflect.DeepEqual(res.Rows, first.Rows) || !reflect.DeepEqual(res.Columns, first.Columns) {
			t.Errorf("cached %#v, from the database %#v", res, first)
		}
	}
	if s := c.Stats(); s.Hits != 1 {
		t.Errorf("hits = %d", s.Hits)
	}
}

type brokenKV struct{ kvstore.Store }

func (brokenKV) Get(context.Context, string) (kvstore.Entry, error) {
	return kvstore.Entry{}, errors.New("kv down")
}
func (brokenKV) Put(context.Context, string, []byte, kvstore.PutOptions) error {
	return errors.New("kv down")
}
func (brokenKV) List(context.Context, kvstore.ListOptions) (kvstore.ListResult, error) {
	return kvstore.ListResult{}, errors.New("kv down")
}

func TestCache_KVDownStillAnswers(t *testing.T) {
	_, db, _, kv := setup(t)
	c, err := cache.New(cache.Options{DB: db, Store: brokenKV{kv}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Query(context.Background(), "SELECT * FROM a"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Query(context.Background(), "DELETE FROM a"); err != nil {
		t.Fatal(err)
	}
	if s := c.Stats(); s.Errors < 3 {
		t.Errorf("errors = %d, want ≥ 3", s.Errors)
	}
}

func TestNew_Bad(t *testing.T) {
	_, db, _, kv := setup(t)
	if _, err := cache.New(cache.Options{Store: kv}); err == nil {
		t.Error("no DB accepted")
	}
	if _, err := cache.New(cache.Options{DB: db, Store: kv, TTL: time.Second}); err == nil || !strings.Contains(err.Error(), "minimum") {
		t.Errorf("1 s TTL: %v", err)
	}
	c, _ := cache.New(cache.Options{DB: db, Store: kv})
	if _, err := c.Query(context.Background(), "SELECT ?", struct{}{}); err == nil {
		t.Error("bad parameter accepted")
	}
	if _, err := c.Batch(context.Background(), []d1.Statement{{SQL: "nope"}}); err == nil {
		t.Error("bad batch accepted")
	}
}

// TestCache_BatchOfOneRead: a batch of one read (what a one-statement
// script becomes) is cached like Query.
func TestCache_BatchOfOneRead(t *testing.T) {
	ctx := context.Background()
	c, db, _, _ := setup(t)
	for i := 0; i < 2; i++ {
		res, err := c.Batch(ctx, []d1.Statement{{SQL: "SELECT id, v FROM a ORDER BY id"}})
		if err != nil || len(res) != 1 {
			t.Fatalf("batch of one: %v, %v", res, err)
		}
	}
	if s := c.Stats(); s.Hits != 1 || s.Misses != 1 || db.queries != 1 {
		t.Fatalf("stats %+v, database queried %d times", s, db.queries)
	}
	if _, err := c.Batch(ctx, []d1.Statement{{SQL: "SELEC broken"}}); err == nil {
		t.Fatal("a broken statement in a batch of one succeeded")
	}
}
