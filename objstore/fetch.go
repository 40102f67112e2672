package objstore

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
)

// DefaultMaxFetchBytes bounds what a Fetcher reads: a reference names a
// configuration value (a certificate, a list of users), not a backup.
const DefaultMaxFetchBytes = 10 << 20

// Fetcher reads whole objects, of bounded size, from the stores bound to
// the configuration's R2 bindings: what r2://BINDING/object/key
// references resolve through (package target plugs it into
// refs.Resolver.R2).
type Fetcher struct {
	// Buckets maps binding names (FILES) to their stores.
	Buckets map[string]Store
	// MaxBytes is the largest object Fetch reads; optional, 0 means
	// DefaultMaxFetchBytes.
	MaxBytes int64
}

// Fetch returns the content of the object at key in the store bound as
// binding. A binding that is not in Buckets is an error naming the bound
// ones; a missing object is an error wrapping ErrNotFound; an object
// above MaxBytes is a *LimitError ("fetch-size").
func (f *Fetcher) Fetch(ctx context.Context, binding, key string) ([]byte, error) {
	s, ok := f.Buckets[binding]
	if !ok {
		bound := make([]string, 0, len(f.Buckets))
		for b := range f.Buckets {
			bound = append(bound, b)
		}
		sort.Strings(bound)
		if len(bound) == 0 {
			bound = []string{"none"}
		}
		return nil, fmt.Errorf("no R2 bucket is bound as %s (bound: %s)", binding, strings.Join(bound, ", "))
	}
	limit := f.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxFetchBytes
	}
	body, info, err := s.Get(ctx, key, GetOptions{})
	if err != nil {
		return nil, err
	}
	defer body.Close()
	if info.Size > limit {
		return nil, &LimitError{Limit: "fetch-size", Key: key, Msg: fmt.Sprintf("object of %d bytes exceeds the %d-byte limit of a referenced value", info.Size, limit)}
	}
	b, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", key, err)
	}
	if int64(len(b)) > limit {
		return nil, &LimitError{Limit: "fetch-size", Key: key, Msg: fmt.Sprintf("object exceeds the %d-byte limit of a referenced value", limit)}
	}
	return b, nil
}
