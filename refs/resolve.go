package refs

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/factory-wager/edgeconf/kvstore"
)

// Fetcher reads the value a reference of one kind points at. R2, D1 and
// Durable Object resolvers implement it when those APIs land.
type Fetcher interface {
	Fetch(ctx context.Context, r Ref) ([]byte, error)
}

// FetcherFunc adapts a function to Fetcher.
type FetcherFunc func(ctx context.Context, r Ref) ([]byte, error)

// Fetch calls f.
func (f FetcherFunc) Fetch(ctx context.Context, r Ref) ([]byte, error) { return f(ctx, r) }

// Resolver resolves references through the stores of one target (the
// local state folder or a Cloudflare account).
type Resolver struct {
	// KV returns the store bound as binding; ok is false for an unknown binding.
	KV func(binding string) (kvstore.Store, bool)
	// R2, D1 and DO are optional; nil means ErrNotAvailable.
	R2, D1, DO Fetcher
	// CacheTTL keeps resolved values this long; optional, 0 means no cache.
	CacheTTL time.Duration
	// Now is the clock of the cache; optional, nil means time.Now.
	Now func() time.Time

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	value []byte
	until time.Time
}

// Resolution is what a reference resolved to.
type Resolution struct {
	Value []byte
	Chain []string // the URIs followed, first to last
}

// Resolve returns the value r points at, following kv:// chains.
func (rv *Resolver) Resolve(ctx context.Context, r Ref) (Resolution, error) {
	var chain []string
	seen := map[string]bool{}
	for hop := 0; ; hop++ {
		uri := r.String()
		if seen[uri] {
			return Resolution{Chain: chain}, fmt.Errorf("%w: %s -> %s", ErrCycle, strings.Join(chain, " -> "), uri)
		}
		if hop >= MaxDepth {
			return Resolution{Chain: chain}, fmt.Errorf("%w: more than %d hops from %s", ErrTooDeep, MaxDepth, chain[0])
		}
		seen[uri] = true
		chain = append(chain, uri)
		v, err := rv.fetch(ctx, r)
		if err != nil {
			return Resolution{Chain: chain}, err
		}
		next := strings.TrimSpace(string(v))
		if r.Kind != KV || !strings.HasPrefix(next, "kv://") {
			return Resolution{Value: v, Chain: chain}, nil
		}
		nr, err := Parse(next)
		if err != nil {
			return Resolution{Chain: chain}, fmt.Errorf("%s holds a bad reference: %w", uri, err)
		}
		r = nr
	}
}

func (rv *Resolver) fetch(ctx context.Context, r Ref) ([]byte, error) {
	uri := r.String()
	now := time.Now
	if rv.Now != nil {
		now = rv.Now
	}
	if rv.CacheTTL > 0 {
		rv.mu.Lock()
		c, ok := rv.cache[uri]
		rv.mu.Unlock()
		if ok && now().Before(c.until) {
			return c.value, nil
		}
	}
	var v []byte
	var err error
	switch r.Kind {
	case KV:
		v, err = rv.fetchKV(ctx, r)
	case R2:
		v, err = fetchWith(ctx, rv.R2, r)
	case D1:
		v, err = fetchWith(ctx, rv.D1, r)
	case DO:
		v, err = fetchWith(ctx, rv.DO, r)
	default:
		err = fmt.Errorf("%s: unknown kind", uri)
	}
	if err != nil {
		return nil, err
	}
	if rv.CacheTTL > 0 {
		rv.mu.Lock()
		if rv.cache == nil {
			rv.cache = map[string]cached{}
		}
		rv.cache[uri] = cached{value: v, until: now().Add(rv.CacheTTL)}
		rv.mu.Unlock()
	}
	return v, nil
}

func (rv *Resolver) fetchKV(ctx context.Context, r Ref) ([]byte, error) {
	if rv.KV == nil {
		return nil, fmt.Errorf("%s: %w", r, ErrNotAvailable)
	}
	s, ok := rv.KV(r.Binding)
	if !ok {
		return nil, fmt.Errorf("%s: no KV namespace is bound as %s", r, r.Binding)
	}
	v, err := kvstore.GetValue(ctx, s, r.Key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r, err) // errors.Is(err, kvstore.ErrNotFound) still holds
	}
	return v, nil
}

func fetchWith(ctx context.Context, f Fetcher, r Ref) ([]byte, error) {
	if f == nil {
		return nil, fmt.Errorf("%s: %s references: %w", r, strings.ToUpper(r.Kind), ErrNotAvailable)
	}
	v, err := f.Fetch(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r, err)
	}
	return v, nil
}
