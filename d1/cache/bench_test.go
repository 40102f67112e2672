package cache_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/factory-wager/edgeconf/cfemu"
	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/d1"
	"github.com/factory-wager/edgeconf/d1/cache"
)

// BenchmarkRead_Emulator compares a read through D1 with the same read
// answered from the KV cache, both over the REST API of the emulator.
func BenchmarkRead_Emulator(b *testing.B) {
	ctx := context.Background()
	emu, err := cfemu.New(cfemu.Options{Token: "bench-token-0123456789", RateLimit: -1})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	defer func() { srv.Close(); emu.Close() }()
	c, err := cloudflare.New(cloudflare.Options{BaseURL: srv.URL + "/client/v4", Token: "bench-token-0123456789",
		AccountID: "0123456789abcdef0123456789abcdef", Retry: cloudflare.RetryPolicy{RequestsPerWindow: -1}})
	if err != nil {
		b.Fatal(err)
	}
	dbInfo, _, err := c.EnsureDatabase(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	db := c.D1(dbInfo)
	if _, err := d1.Exec(ctx, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 20000) INSERT INTO t (v) SELECT 'row ' || i FROM n;"); err != nil {
		b.Fatal(err)
	}
	ns, _, err := c.EnsureNamespace(ctx, "cache")
	if err != nil {
		b.Fatal(err)
	}
	cached, err := cache.New(cache.Options{DB: db, Store: c.KVNamespace(ns)})
	if err != nil {
		b.Fatal(err)
	}
	// An indexed lookup of 51 rows, and an aggregate that scans 20,000.
	queries := map[string]d1.Statement{
		"lookup":    {SQL: "SELECT id, v FROM t WHERE id BETWEEN ? AND ? ORDER BY id", Params: []any{100, 150}},
		"aggregate": {SQL: "SELECT length(v) AS l, count(*) FROM t WHERE id > ? AND v LIKE '%' || ? || '%' GROUP BY l", Params: []any{100, "1"}},
	}
	for _, q := range []string{"lookup", "aggregate"} {
		for _, bc := range []struct {
			name string
			db   d1.DB
		}{{"uncached", db}, {"cached", cached}} {
			b.Run(q+"/"+bc.name, func(b *testing.B) {
				for b.Loop() {
					if _, err := bc.db.Query(ctx, queries[q].SQL, queries[q].Params...); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
