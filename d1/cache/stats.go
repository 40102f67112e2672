package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/factory-wager/edgeconf/kvstore"
)

// StatsPrefix is where the caches keep their running totals, one key per
// database, outside every cache's own prefix: dropping every cached result
// keeps the totals.
const StatsPrefix = "edgeconf/v1/d1stats/"

// StatsKey is the key of the totals of database db's cache.
func StatsKey(db string) string { return StatsPrefix + db }

// Flush adds the counters gathered since the last Flush to the totals
// kept at key in the cache's KV namespace (a read-modify-write: atomic in
// the local state folder; in Workers KV, which has no transactions, two
// processes flushing at once can lose one's counts — the totals are a
// trend, not an account).
func (c *Cache) Flush(ctx context.Context, key string) error {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	now := c.Stats()
	delta := Stats{Hits: now.Hits - c.flushed.Hits, Misses: now.Misses - c.flushed.Misses,
		Invalidations: now.Invalidations - c.flushed.Invalidations, Errors: now.Errors - c.flushed.Errors}
	if delta == (Stats{}) {
		return nil
	}
	err := kvstore.Update(ctx, c.kv, key, func(cur *kvstore.Entry) ([]byte, kvstore.PutOptions, error) {
		var total Stats
		if cur != nil {
			_ = json.Unmarshal(cur.Value, &total) // totals that are not ours start afresh
		}
		total.Hits += delta.Hits
		total.Misses += delta.Misses
		total.Invalidations += delta.Invalidations
		total.Errors += delta.Errors
		b, err := json.Marshal(total)
		return b, kvstore.PutOptions{}, err
	})
	if err != nil {
		return fmt.Errorf("d1 cache: add the counters to %s: %w", key, err)
	}
	c.flushed = now
	return nil
}

// ReadStats returns the totals kept at key (zero when there are none).
func ReadStats(ctx context.Context, st kvstore.Store, key string) (Stats, error) {
	var s Stats
	e, err := st.Get(ctx, key)
	if errors.Is(err, kvstore.ErrNotFound) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("d1 cache: read the counters at %s: %w", key, err)
	}
	if err := json.Unmarshal(e.Value, &s); err != nil {
		return Stats{}, fmt.Errorf("d1 cache: the counters at %s are not ours: %w", key, err)
	}
	return s, nil
}

// Gauges are the totals as the monitor reports them: d1.cache_hits,
// d1.cache_misses, d1.cache_invalidations, d1.cache_errors and
// d1.cache_hit_ratio (hits / (hits + misses), 0 before any read).
func (s Stats) Gauges() map[string]float64 {
	ratio := 0.0
	if n := s.Hits + s.Misses; n > 0 {
		ratio = float64(s.Hits) / float64(n)
	}
	return map[string]float64{
		"d1.cache_hits": float64(s.Hits), "d1.cache_misses": float64(s.Misses),
		"d1.cache_invalidations": float64(s.Invalidations), "d1.cache_errors": float64(s.Errors),
		"d1.cache_hit_ratio": ratio,
	}
}
