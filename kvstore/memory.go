package kvstore

import (
	"bytes"
	"context"
	"sort"
	"strings"
	"sync"
	"time"
)

// Memory is an in-memory Store for tests and for processes that need no
// persistence. The zero value is not ready; use NewMemory.
type Memory struct {
	mu      sync.Mutex
	entries map[string]Entry
	now     func() time.Time
}

var (
	_ Store   = (*Memory)(nil)
	_ Updater = (*Memory)(nil)
	_ Namer   = (*Memory)(nil)
)

// NewMemory returns an empty store. now is the clock; nil means time.Now.
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{entries: map[string]Entry{}, now: now}
}

// Target names the store for command output.
func (m *Memory) Target() string { return "memory" }

// Get implements Store.
func (m *Memory) Get(ctx context.Context, key string) (Entry, error) {
	if err := CheckKey(key); err != nil {
		return Entry{}, err
	}
	if err := ctx.Err(); err != nil {
		return Entry{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.live(key)
	if !ok {
		return Entry{}, &notFound{key}
	}
	return clone(e), nil
}

func (m *Memory) live(key string) (Entry, bool) {
	e, ok := m.entries[key]
	if !ok {
		return Entry{}, false
	}
	if Expired(e.Expiration, m.now()) {
		delete(m.entries, key)
		return Entry{}, false
	}
	return e, true
}

// Put implements Store.
func (m *Memory) Put(ctx context.Context, key string, value []byte, opts PutOptions) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.put(key, value, opts)
}

func (m *Memory) put(key string, value []byte, opts PutOptions) error {
	exp, err := CheckPut(key, value, opts, m.now())
	if err != nil {
		return err
	}
	m.entries[key] = clone(Entry{Key: key, Value: value, Metadata: opts.Metadata, Expiration: exp})
	return nil
}

// Delete implements Store.
func (m *Memory) Delete(ctx context.Context, key string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.entries, key)
	return nil
}

// List implements Store.
func (m *Memory) List(ctx context.Context, opts ListOptions) (ListResult, error) {
	limit, err := CheckList(opts)
	if err != nil {
		return ListResult{}, err
	}
	after := ""
	if opts.Cursor != "" {
		if after, err = DecodeCursor(opts.Cursor); err != nil {
			return ListResult{}, err
		}
	}
	if err := ctx.Err(); err != nil {
		return ListResult{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var names []string
	for k := range m.entries {
		if strings.HasPrefix(k, opts.Prefix) && (after == "" || k > after) {
			if _, ok := m.live(k); ok {
				names = append(names, k)
			}
		}
	}
	sort.Strings(names)
	var res ListResult
	for i, k := range names {
		if i == limit {
			res.Cursor = EncodeCursor(names[i-1])
			break
		}
		e := m.entries[k]
		res.Keys = append(res.Keys, KeyInfo{Name: k, Expiration: e.Expiration, Metadata: bytes.Clone(e.Metadata)})
	}
	return res, nil
}

// Update implements Updater under the store's lock.
func (m *Memory) Update(ctx context.Context, key string, fn func(cur *Entry) ([]byte, PutOptions, error)) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var cur *Entry
	if e, ok := m.live(key); ok {
		c := clone(e)
		cur = &c
	}
	value, opts, err := fn(cur)
	if err != nil {
		return err
	}
	return m.put(key, value, opts)
}

func clone(e Entry) Entry {
	e.Value = bytes.Clone(e.Value)
	if e.Value == nil {
		e.Value = []byte{}
	}
	e.Metadata = bytes.Clone(e.Metadata)
	return e
}

// notFound wraps ErrNotFound with the key.
type notFound struct{ key string }

func (e *notFound) Error() string { return "get " + quoteKey(e.key) + ": " + ErrNotFound.Error() }
func (e *notFound) Unwrap() error { return ErrNotFound }

// NotFound returns an error wrapping ErrNotFound that names key; stores use it.
func NotFound(key string) error { return &notFound{key} }

func quoteKey(k string) string {
	if len(k) > 64 {
		k = k[:64] + "..."
	}
	return `"` + k + `"`
}

var _ Transactor = (*Memory)(nil)

// Transact implements Transactor: writes are staged and applied under the
// store's lock when fn succeeds.
func (m *Memory) Transact(ctx context.Context, fn func(Txn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t := &memTxn{m: m, staged: map[string]*Entry{}}
	if err := fn(t); err != nil {
		return err
	}
	for k, e := range t.staged {
		if e == nil {
			delete(m.entries, k)
		} else {
			m.entries[k] = *e
		}
	}
	return nil
}

type memTxn struct {
	m      *Memory
	staged map[string]*Entry // nil: deleted
}

func (t *memTxn) Get(key string) (*Entry, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	if e, ok := t.staged[key]; ok {
		if e == nil || Expired(e.Expiration, t.m.now()) {
			return nil, nil
		}
		c := clone(*e)
		return &c, nil
	}
	if e, ok := t.m.live(key); ok {
		c := clone(e)
		return &c, nil
	}
	return nil, nil
}

func (t *memTxn) Put(key string, value []byte, opts PutOptions) error {
	exp, err := CheckPut(key, value, opts, t.m.now())
	if err != nil {
		return err
	}
	e := clone(Entry{Key: key, Value: value, Metadata: opts.Metadata, Expiration: exp})
	t.staged[key] = &e
	return nil
}

func (t *memTxn) List(prefix string) ([]Entry, error) {
	var names []string
	for k := range t.m.entries {
		if _, staged := t.staged[k]; !staged && strings.HasPrefix(k, prefix) {
			names = append(names, k)
		}
	}
	for k := range t.staged {
		if strings.HasPrefix(k, prefix) {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var out []Entry
	for _, k := range names {
		e, err := t.Get(k)
		if err != nil {
			return nil, err
		}
		if e != nil {
			out = append(out, *e)
		}
	}
	return out, nil
}

func (t *memTxn) Delete(key string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	t.staged[key] = nil
	return nil
}
