package cache_test

import (
	"context"
	"testing"

	"github.com/factory-wager/edgeconf/d1/cache"
	"github.com/factory-wager/edgeconf/kvstore"
)

// TestFlush: the counters reach the totals in KV once each (a second
// Flush adds only what is new), totals add up across caches, a flush of
// every cached result keeps them, and the gauges follow.
func TestFlush(t *testing.T) {
	ctx := context.Background()
	c, _, _, kv := setup(t)
	key := cache.StatsKey("db")
	if s, err := cache.ReadStats(ctx, kv, key); err != nil || s != (cache.Stats{}) {
		t.Fatalf("totals before any flush: %+v, %v", s, err)
	}
	for range 3 {
		if _, err := c.Query(ctx, "SELECT v FROM a"); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 { // the second flush has nothing new
		if err := c.Flush(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	if s, _ := cache.ReadStats(ctx, kv, key); s.Hits != 2 || s.Misses != 1 {
		t.Fatalf("totals after one query run thrice: %+v", s)
	}
	// Another cache over the same namespace (here in front of the first,
	// so its miss is a miss of both) adds to the same totals; an
	// unplaceable statement drops every cached result but not the totals.
	other, err := cache.New(cache.Options{DB: c, Store: kv})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Query(ctx, "SELECT v FROM b"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Query(ctx, "PRAGMA user_version = 1"); err != nil {
		t.Fatal(err)
	}
	if err := other.Flush(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(ctx, key); err != nil {
		t.Fatal(err)
	}
	s, err := cache.ReadStats(ctx, kv, key)
	if err != nil || s.Hits != 2 || s.Misses != 3 || s.Invalidations < 1 {
		t.Fatalf("totals of two caches: %+v, %v", s, err)
	}
	g := s.Gauges()
	if g["d1.cache_hits"] != 2 || g["d1.cache_misses"] != 3 || g["d1.cache_hit_ratio"] != 0.4 {
		t.Errorf("gauges %v", g)
	}
	if r := (cache.Stats{}).Gauges()["d1.cache_hit_ratio"]; r != 0 {
		t.Errorf("hit ratio before any read = %v", r)
	}

	// Totals that are not ours: reading says so; a flush starts afresh.
	if err := kv.Put(ctx, key, []byte("junk"), kvstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cache.ReadStats(ctx, kv, key); err == nil {
		t.Error("junk totals read without an error")
	}
	if _, err := c.Query(ctx, "SELECT v FROM a"); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(ctx, key); err != nil {
		t.Fatal(err)
	}
	if s, err := cache.ReadStats(ctx, kv, key); err != nil || s.Misses != 1 {
		t.Errorf("totals after junk: %+v, %v", s, err)
	}
}
