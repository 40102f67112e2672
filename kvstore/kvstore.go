// Package kvstore defines the key-value store edgeconf keeps configuration
// overrides, audit records and alerts in, with the semantics and limits of
// Cloudflare Workers KV, so that code written against it behaves the same
// on the embedded local store, in memory and on Cloudflare.
//
// Every implementation passes the conformance suite in kvstore/storetest.
package kvstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Workers KV limits, enforced by every implementation before any I/O.
const (
	MaxKeyBytes      = 512              // UTF-8 bytes of a key (and of a list prefix)
	MaxValueBytes    = 25 << 20         // 25 MiB
	MaxMetadataBytes = 1024             // serialized JSON
	MinTTL           = 60 * time.Second // shortest expiration_ttl, and nearest absolute expiration
	MaxListLimit     = 1000             // keys per list page
	MaxBulkPairs     = 10_000           // pairs per bulk write or delete
)

// ErrNotFound is returned (wrapped) by Get for a key that does not exist or has expired.
var ErrNotFound = errors.New("key not found")

// ErrConflict is returned by Update when another writer changed the key
// between the read and the write and the caller's function refused to retry.
var ErrConflict = errors.New("conflicting update")

// ErrAccessDenied is matched (errors.Is) by a store's error when the store
// refused the credentials (Cloudflare answers 401 or 403). It is a
// configuration problem, not an outage: readers report it rather than
// fall back to a saved copy.
var ErrAccessDenied = errors.New("access denied")

// LimitError says which Workers KV limit a call broke. Callers branch on it
// with errors.As; Limit names the rule ("key-size", "value-size",
// "metadata-size", "metadata-json", "ttl", "expiration", "key-name",
// "list-limit", "cursor", "bulk-size").
type LimitError struct {
	Limit string
	Key   string // the key involved, if any (shown only up to 64 bytes)
	Msg   string
}

func (e *LimitError) Error() string {
	if e.Key == "" {
		return "kv " + e.Limit + ": " + e.Msg
	}
	k := e.Key
	if len(k) > 64 {
		k = k[:64] + "..."
	}
	return fmt.Sprintf("kv %s: key %q: %s", e.Limit, k, e.Msg)
}

// Entry is a stored value with its metadata.
type Entry struct {
	Key      string
	Value    []byte
	Metadata json.RawMessage // nil when the key has none
	// Expiration is when the key stops being visible; zero means never.
	Expiration time.Time
}

// PutOptions are the optional parts of a write. When both TTL and
// Expiration are set, TTL wins, as in the Workers KV API.
type PutOptions struct {
	Expiration time.Time       // absolute; must be at least MinTTL in the future
	TTL        time.Duration   // relative; at least MinTTL, whole seconds
	Metadata   json.RawMessage // a JSON object of at most MaxMetadataBytes
}

// KeyInfo is one key of a listing.
type KeyInfo struct {
	Name       string          `json:"name"`
	Expiration time.Time       `json:"-"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
}

// ListOptions selects a page of keys.
type ListOptions struct {
	Prefix string // optional
	Cursor string // optional; "" starts at the beginning
	Limit  int    // optional; 0 means MaxListLimit, above it is an error
}

// ListResult is one page of keys, sorted by key (bytewise). Cursor is ""
// on the last page; pass it back with the same Prefix for the next page.
type ListResult struct {
	Keys   []KeyInfo
	Cursor string
}

// Store is a Workers-KV-like key-value store. Implementations are safe
// for concurrent use.
type Store interface {
	// Get returns the entry at key.
	// It returns an error wrapping ErrNotFound if the key does not exist or has expired.
	Get(ctx context.Context, key string) (Entry, error)
	// Put writes value at key, replacing any entry. A broken limit is a
	// *LimitError and nothing is written.
	Put(ctx context.Context, key string, value []byte, opts PutOptions) error
	// Delete removes key. Deleting a key that does not exist is not an error.
	Delete(ctx context.Context, key string) error
	// List returns one page of the keys that start with opts.Prefix.
	List(ctx context.Context, opts ListOptions) (ListResult, error)
}

// Updater is implemented by stores that can read-modify-write a key
// atomically, even against other processes (the local store) or other
// goroutines (memory). Stores without it (Cloudflare KV has no
// compare-and-swap) are updated through UpdateFunc's optimistic fallback.
type Updater interface {
	// Update calls fn with the current entry (nil when absent or expired)
	// and writes what it returns, atomically. If fn returns an error,
	// nothing is written and Update returns it.
	Update(ctx context.Context, key string, fn func(cur *Entry) ([]byte, PutOptions, error)) error
}

// ValueGetter is implemented by stores that read a value alone more
// cheaply than a whole entry: on Cloudflare, Get is two requests (value and
// metadata) and GetValue one. Call it through GetValue.
type ValueGetter interface {
	// GetValue returns the value at key, or an error wrapping ErrNotFound.
	GetValue(ctx context.Context, key string) ([]byte, error)
}

// GetValue returns the value at key: through ValueGetter when s has it,
// else through Get. Readers that need neither metadata nor expiration
// (reference resolution, caches) use it.
func GetValue(ctx context.Context, s Store, key string) ([]byte, error) {
	if g, ok := s.(ValueGetter); ok {
		return g.GetValue(ctx, key)
	}
	e, err := s.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	return e.Value, nil
}

// Namer is implemented by stores that can say where they keep data, for
// the "target" line commands print.
type Namer interface {
	Target() string
}

// Update applies fn atomically when s implements Updater. Otherwise it
// reads, calls fn and writes: correct for one writer, best effort for
// several (Workers KV offers nothing stronger; callers detect lost
// updates through a revision in the metadata).
func Update(ctx context.Context, s Store, key string, fn func(cur *Entry) ([]byte, PutOptions, error)) error {
	if u, ok := s.(Updater); ok {
		return u.Update(ctx, key, fn)
	}
	var cur *Entry
	e, err := s.Get(ctx, key)
	switch {
	case err == nil:
		cur = &e
	case !errors.Is(err, ErrNotFound):
		return err
	}
	value, opts, err := fn(cur)
	if err != nil {
		return err
	}
	return s.Put(ctx, key, value, opts)
}

// Pair is one write of a bulk operation.
type Pair struct {
	Key     string
	Value   []byte
	Options PutOptions
}

// BulkPutter is implemented by stores that write many pairs at once
// (one transaction locally, one request per batch on Cloudflare).
type BulkPutter interface {
	PutMany(ctx context.Context, pairs []Pair) error
}

// Txn is one transaction of a Transactor: reads see its own writes, and
// its writes land together or not at all.
type Txn interface {
	// Get returns the live entry of key, or nil when there is none.
	Get(key string) (*Entry, error)
	// Put checks the pair against the limits (CheckPut) and writes it.
	Put(key string, value []byte, opts PutOptions) error
	// Delete removes key (no entry: not an error).
	Delete(key string) error
	// List returns the live entries whose key starts with prefix, in key
	// order, as the transaction sees them (its own writes included).
	List(prefix string) ([]Entry, error)
}

// Transactor is implemented by stores that write several keys atomically
// (bbolt locally, the in-memory store). A transaction also excludes every
// other writer of the store while it runs, so a check made in it still
// holds when its writes land. Workers KV has no transactions; callers
// fall back to ordered single writes there.
type Transactor interface {
	// Transact runs fn in one transaction and commits its writes when fn
	// returns nil; an error from fn discards them.
	Transact(ctx context.Context, fn func(Txn) error) error
}
