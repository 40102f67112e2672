package r2

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/factory-wager/edgeconf/objstore"
	"github.com/factory-wager/edgeconf/refs"
)

var _ refs.Fetcher = (*Fetcher)(nil)

// DefaultMaxFetchBytes bounds what a Fetcher reads: a reference names a
// configuration value (a certificate, a list of users), not a backup.
const DefaultMaxFetchBytes = 10 << 20

// Fetcher resolves r2://BINDING/object/key references by reading the
// whole object from the store bound as BINDING: a local bucket or R2.
type Fetcher struct {
	// Buckets maps binding names (FILES) to their stores.
	Buckets map[string]objstore.Store
	// MaxBytes is the largest object Fetch reads; optional, 0 means
	// DefaultMaxFetchBytes.
	MaxBytes int64
}

// NewFetcher returns a Fetcher for the stores bound to each binding, to
// plug into refs.Resolver.R2.
func NewFetcher(buckets map[string]objstore.Store) *Fetcher {
	return &Fetcher{Buckets: buckets}
}

// Fetch returns the content of the object r points at. A missing object
// is an error wrapping objstore.ErrNotFound; an object above MaxBytes is
// an *objstore.LimitError.
func (f *Fetcher) Fetch(ctx context.Context, r refs.Ref) ([]byte, error) {
	if r.Kind != refs.R2 {
		return nil, fmt.Errorf("r2 fetcher: cannot fetch %s references", strings.ToUpper(r.Kind))
	}
	s, ok := f.Buckets[r.Binding]
	if !ok {
		bound := make([]string, 0, len(f.Buckets))
		for b := range f.Buckets {
			bound = append(bound, b)
		}
		sort.Strings(bound)
		return nil, fmt.Errorf("no R2 bucket is bound as %s (bound: %s)", r.Binding, orNone(bound))
	}
	limit := f.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxFetchBytes
	}
	body, info, err := s.Get(ctx, r.Key, objstore.GetOptions{})
	if err != nil {
		return nil, err
	}
	defer body.Close()
	if info.Size > limit {
		return nil, &objstore.LimitError{Limit: "fetch-size", Key: r.Key, Msg: fmt.Sprintf("object of %d bytes exceeds the %d-byte limit of a referenced value", info.Size, limit)}
	}
	b, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", r.Key, err)
	}
	if int64(len(b)) > limit {
		return nil, &objstore.LimitError{Limit: "fetch-size", Key: r.Key, Msg: fmt.Sprintf("object exceeds the %d-byte limit of a referenced value", limit)}
	}
	return b, nil
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
