// Package cache is a read-through cache in Workers KV for D1 read queries.
//
// A Cache wraps a d1.DB and is one itself. A read-only statement
// (SELECT, WITH … SELECT, VALUES without clock or random functions and
// not reading sqlite_* tables) is answered from KV when a fresh entry
// exists, else from the database and then stored for Options.TTL. The key
// is a SHA-256 of the SQL text and its typed parameters.
//
// Invalidation rule: every statement that writes through the Cache
// deletes the cached results of the queries that read the table it
// writes (by FROM and JOIN names). A statement the scan cannot place
// (PRAGMA, CREATE TRIGGER, ATTACH, …) deletes every cached result.
//
// Limits (docs/d1.md says the same): the scan is lexical, so writes made
// elsewhere (a Worker, wrangler, the dashboard of Cloudflare), writes by
// triggers or foreign-key cascades, and reads through views are not seen:
// those results stay until their TTL ends. Workers KV is eventually
// consistent (about 60 s between locations), so an invalidation can take
// that long to reach another location. TTL is therefore the bound on
// staleness; keep it short for data that other writers change.
package cache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/factory-wager/edgeconf/d1"
	"github.com/factory-wager/edgeconf/kvstore"
)

// DefaultTTL is how long a cached result lives unless Options.TTL says.
const DefaultTTL = 5 * time.Minute

// MaxEntryBytes bounds a cached result; larger results are not cached
// (KV takes 25 MiB, but a cache entry that large saves nothing).
const MaxEntryBytes = 1 << 20

// Options configures a Cache.
type Options struct {
	DB    d1.DB         // required
	Store kvstore.Store // required: the KV namespace of the cache
	// Prefix of every key; optional, "" means "edgeconf/v1/d1cache/".
	// Give each database its own prefix.
	Prefix string
	TTL    time.Duration // optional; 0 means DefaultTTL; at least kvstore.MinTTL
	Logger *slog.Logger  // optional; nil discards
}

// Stats are the cache's counters since it was made, for the monitor.
type Stats struct {
	Hits          int64 `json:"hits"`
	Misses        int64 `json:"misses"`
	Invalidations int64 `json:"invalidations"` // cached results deleted by writes
	Errors        int64 `json:"errors"`        // KV failures (the query still ran on D1)
}

// Cache is a d1.DB that answers read queries from KV when it can.
type Cache struct {
	db     d1.DB
	kv     kvstore.Store
	prefix string
	ttl    time.Duration
	logger *slog.Logger

	hits, misses, invalidations, errs atomic.Int64

	flushMu sync.Mutex
	flushed Stats // the counters at the last Flush
}

var _ d1.DB = (*Cache)(nil)

// New returns a Cache.
func New(opts Options) (*Cache, error) {
	if opts.DB == nil || opts.Store == nil {
		return nil, errors.New("d1 cache: a database and a KV store are required")
	}
	if opts.TTL == 0 {
		opts.TTL = DefaultTTL
	}
	if opts.TTL < kvstore.MinTTL {
		return nil, fmt.Errorf("d1 cache: TTL %s is below KV's minimum of %s", opts.TTL, kvstore.MinTTL)
	}
	if opts.Prefix == "" {
		opts.Prefix = "edgeconf/v1/d1cache/"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Cache{db: opts.DB, kv: opts.Store, prefix: opts.Prefix, ttl: opts.TTL.Truncate(time.Second), logger: opts.Logger}, nil
}

// Stats returns the counters.
func (c *Cache) Stats() Stats {
	return Stats{Hits: c.hits.Load(), Misses: c.misses.Load(), Invalidations: c.invalidations.Load(), Errors: c.errs.Load()}
}

// Close closes the underlying database.
func (c *Cache) Close() error { return c.db.Close() }

// Query answers a cacheable read from KV when it can; any other statement
// runs on the database and then invalidates what it wrote.
func (c *Cache) Query(ctx context.Context, sql string, params ...any) (d1.Result, error) {
	acc := Classify(sql)
	if !acc.Cacheable {
		res, err := c.db.Query(ctx, sql, params...)
		if err == nil {
			c.invalidate(ctx, []Access{acc})
		}
		return res, err
	}
	key, err := c.key(sql, params)
	if err != nil {
		return d1.Result{}, err
	}
	if v, err := kvstore.GetValue(ctx, c.kv, key); err == nil {
		if res, err := decode(v); err == nil {
			c.hits.Add(1)
			return res, nil
		}
	} else if !errors.Is(err, kvstore.ErrNotFound) {
		c.errs.Add(1)
		c.logger.Warn("d1 cache: read failed; asking the database", "err", err)
	}
	c.misses.Add(1)
	res, err := c.db.Query(ctx, sql, params...)
	if err != nil {
		return res, err
	}
	c.store(ctx, key, acc, res)
	return res, nil
}

// Batch runs on the database and invalidates what its statements write. A
// batch of one statement is answered as Query answers it (a script of one
// cacheable read is cached).
func (c *Cache) Batch(ctx context.Context, stmts []d1.Statement) ([]d1.Result, error) {
	if len(stmts) == 1 {
		res, err := c.Query(ctx, stmts[0].SQL, stmts[0].Params...)
		if err != nil {
			return nil, err
		}
		return []d1.Result{res}, nil
	}
	res, err := c.db.Batch(ctx, stmts)
	if err != nil {
		return nil, err
	}
	accs := make([]Access, len(stmts))
	for i, s := range stmts {
		accs[i] = Classify(s.SQL)
	}
	c.invalidate(ctx, accs)
	return res, nil
}

func (c *Cache) store(ctx context.Context, key string, acc Access, res d1.Result) {
	b, err := encode(res)
	if err != nil || len(b) > MaxEntryBytes {
		return
	}
	hash := strings.TrimPrefix(key, c.prefix+"q/")
	opts := kvstore.PutOptions{TTL: c.ttl}
	// Index first: a result is never stored without the entry that lets a
	// write find it.
	for _, t := range acc.Reads {
		if err := c.kv.Put(ctx, c.indexKey(t, hash), nil, opts); err != nil {
			c.errs.Add(1)
			c.logger.Warn("d1 cache: index write failed; result not cached", "table", t, "err", err)
			return
		}
	}
	if err := c.kv.Put(ctx, key, b, opts); err != nil {
		c.errs.Add(1)
		c.logger.Warn("d1 cache: write failed", "err", err)
	}
}

func (c *Cache) indexKey(table, hash string) string {
	return c.prefix + "t/" + hex.EncodeToString([]byte(table)) + "/" + hash
}

// invalidate deletes the cached results that read a table the statements
// write, or all of them when one cannot be placed.
func (c *Cache) invalidate(ctx context.Context, accs []Access) {
	all := false
	var tables []string
	for _, a := range accs {
		if a.Cacheable {
			continue
		}
		all = all || a.WritesAll
		tables = append(tables, a.Writes...)
	}
	if all {
		c.drop(ctx, c.prefix, true)
		return
	}
	for _, t := range dedupe(tables) {
		c.drop(ctx, c.prefix+"t/"+hex.EncodeToString([]byte(t))+"/", false)
	}
}

// drop deletes every key under prefix and, for index keys, the results
// they point at.
func (c *Cache) drop(ctx context.Context, prefix string, everything bool) {
	cursor := ""
	for {
		page, err := c.kv.List(ctx, kvstore.ListOptions{Prefix: prefix, Cursor: cursor})
		if err != nil {
			c.errs.Add(1)
			c.logger.Warn("d1 cache: invalidation could not list keys; entries live until their TTL", "err", err)
			return
		}
		for _, k := range page.Keys {
			if !everything {
				hash := k.Name[strings.LastIndexByte(k.Name, '/')+1:]
				if err := c.kv.Delete(ctx, c.prefix+"q/"+hash); err != nil {
					c.errs.Add(1)
				} else {
					c.invalidations.Add(1)
				}
			} else if strings.HasPrefix(k.Name, c.prefix+"q/") {
				c.invalidations.Add(1)
			}
			if err := c.kv.Delete(ctx, k.Name); err != nil {
				c.errs.Add(1)
			}
		}
		if page.Cursor == "" {
			return
		}
		cursor = page.Cursor
	}
}

// key hashes the SQL text and the parameters with their types, so 1 and
// "1" are different queries.
func (c *Cache) key(sql string, params []any) (string, error) {
	stmts := []d1.Statement{{SQL: sql, Params: append([]any(nil), params...)}}
	if err := d1.Check(stmts); err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%d:%s", len(sql), sql)
	for _, p := range stmts[0].Params {
		b, _ := json.Marshal(cell(p))
		fmt.Fprintf(h, "|%T:%s", p, b)
	}
	return c.prefix + "q/" + hex.EncodeToString(h.Sum(nil)), nil
}

type entry struct {
	Columns []string `json:"columns"`
	Rows    [][]any  `json:"rows"`
	Meta    d1.Meta  `json:"meta"`
}

// cell encodes one value so its type survives JSON: integers as numbers,
// floats as {"f":…}, BLOBs as {"b":base64}.
func cell(v any) any {
	switch x := v.(type) {
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return map[string]string{"fs": fmt.Sprint(x)}
		}
		return map[string]float64{"f": x}
	case []byte:
		return map[string]string{"b": base64.StdEncoding.EncodeToString(x)}
	}
	return v
}

func encode(res d1.Result) ([]byte, error) {
	e := entry{Columns: res.Columns, Rows: make([][]any, len(res.Rows)), Meta: res.Meta}
	for i, row := range res.Rows {
		r := make([]any, len(row))
		for j, v := range row {
			r[j] = cell(v)
		}
		e.Rows[i] = r
	}
	return json.Marshal(e)
}

func decode(b []byte) (d1.Result, error) {
	var e struct {
		Columns []string `json:"columns"`
		Rows    [][]any  `json:"rows"`
		Meta    d1.Meta  `json:"meta"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // integers stay exact
	if err := dec.Decode(&e); err != nil {
		return d1.Result{}, err
	}
	for _, row := range e.Rows {
		for j, c := range row {
			v, err := uncell(c)
			if err != nil {
				return d1.Result{}, err
			}
			row[j] = v
		}
	}
	return d1.Result{Columns: e.Columns, Rows: e.Rows, Meta: e.Meta}, nil
}

// uncell reverses cell on a value decoded with UseNumber.
func uncell(c any) (any, error) {
	switch x := c.(type) {
	case json.Number:
		return x.Int64()
	case map[string]any:
		if f, ok := x["f"].(json.Number); ok {
			return f.Float64()
		}
		if s, ok := x["b"].(string); ok {
			return base64.StdEncoding.DecodeString(s)
		}
		if s, ok := x["fs"].(string); ok {
			var f float64
			_, err := fmt.Sscan(s, &f)
			return f, err
		}
		return nil, errors.New("bad cached cell")
	}
	return c, nil
}
