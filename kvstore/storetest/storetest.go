// Package storetest is the conformance suite every kvstore.Store passes:
// the in-memory store, the local bbolt store and the Cloudflare KV client
// (against the emulator). It checks Workers KV semantics — limits, expiry
// to the second, sorted cursor listing, metadata — and, for stores that
// implement kvstore.Transactor, transactions; and includes a state-machine
// property test against a model.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/kvstore"
)

// Harness is one fresh, empty store under test and control of its clock.
type Harness struct {
	Store kvstore.Store
	// Advance moves the store's clock forward. Every store in edgeconf
	// takes a clock, so the suite never sleeps.
	// Advance is nil for a store on a real clock (a real account): the
	// expiry cases are then skipped.
	Advance func(time.Duration)
	// Now reads the store's clock.
	Now func() time.Time
}

// Options tunes Run for backends that are slow per call.
type Options struct {
	// SkipLargeValues skips the 25 MiB value test (it is still run for
	// local stores; remote ones may skip it to save time).
	SkipLargeValues bool
	// RateLimited skips the cases that make over a thousand calls (a real
	// account allows 1,200 API requests per 5 minutes).
	RateLimited bool
}

// Clock is a fake clock for harnesses: safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at a fixed, whole-second instant.
func NewClock() *Clock { return &Clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Advance moves the clock.
func (c *Clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// Run runs the conformance suite; newHarness is called once per subtest.
func Run(t *testing.T, newHarness func(t *testing.T) Harness, opts Options) {
	ctx := context.Background()
	sub := func(name string, fn func(t *testing.T, h Harness)) {
		t.Run(name, func(t *testing.T) { fn(t, newHarness(t)) })
	}

	sub("PutGet", func(t *testing.T, h Harness) {
		for _, tc := range []struct {
			key   string
			value []byte
		}{
			{"plain", []byte("hello")},
			{"empty-value", []byte{}},
			{"binary", []byte{0, 1, 2, 0xff, '\n'}},
			{"a/b?c d%&x=1#frag", []byte("needs escaping")},
			{"%2F literal percent", []byte("not decoded")},
			{"ключ/日本語/🔑", []byte("unicode")},
			{strings.Repeat("k", kvstore.MaxKeyBytes), []byte("longest key")},
		} {
			mustPut(t, h.Store, tc.key, tc.value, kvstore.PutOptions{})
			e, err := h.Store.Get(ctx, tc.key)
			if err != nil {
				t.Fatalf("Get(%.40q): %v", tc.key, err)
			}
			if !bytes.Equal(e.Value, tc.value) || e.Key != tc.key {
				t.Errorf("Get(%.40q) = %q (key %.40q), want %q", tc.key, e.Value, e.Key, tc.value)
			}
			if e.Metadata != nil || !e.Expiration.IsZero() {
				t.Errorf("Get(%.40q): metadata %s, expiration %v; want none", tc.key, e.Metadata, e.Expiration)
			}
		}
	})

	sub("GetValue", func(t *testing.T, h Harness) {
		// kvstore.GetValue answers as Get does, through the store's
		// cheaper value-only read when it has one.
		_, direct := h.Store.(kvstore.ValueGetter)
		t.Logf("value-only read: %v", direct)
		mustPut(t, h.Store, "a/b?c d%&x=1#frag", []byte("with metadata"), kvstore.PutOptions{Metadata: json.RawMessage(`{"rev":7}`), TTL: time.Hour})
		mustPut(t, h.Store, "empty", []byte{}, kvstore.PutOptions{})
		for key, want := range map[string]string{"a/b?c d%&x=1#frag": "with metadata", "empty": ""} {
			v, err := kvstore.GetValue(ctx, h.Store, key)
			if err != nil || string(v) != want {
				t.Errorf("GetValue(%q) = %q, %v; want %q", key, v, err, want)
			}
		}
		if _, err := kvstore.GetValue(ctx, h.Store, "missing"); !errors.Is(err, kvstore.ErrNotFound) {
			t.Errorf("GetValue(missing) = %v, want ErrNotFound", err)
		}
		var le *kvstore.LimitError
		if _, err := kvstore.GetValue(ctx, h.Store, ".."); !errors.As(err, &le) || le.Limit != "key-name" {
			t.Errorf("GetValue(..) = %v, want the key-name limit", err)
		}
	})

	sub("GetMissing", func(t *testing.T, h Harness) {
		_, err := h.Store.Get(ctx, "missing")
		if !errors.Is(err, kvstore.ErrNotFound) {
			t.Fatalf("Get(missing) = %v, want ErrNotFound", err)
		}
	})

	sub("Overwrite", func(t *testing.T, h Harness) {
		mustPut(t, h.Store, "k", []byte("v1"), kvstore.PutOptions{Metadata: json.RawMessage(`{"rev":1}`), TTL: time.Hour})
		mustPut(t, h.Store, "k", []byte("v2"), kvstore.PutOptions{})
		e := mustGet(t, h.Store, "k")
		if string(e.Value) != "v2" || e.Metadata != nil || !e.Expiration.IsZero() {
			t.Errorf("after overwrite: %q %s %v, want v2 with no metadata and no expiry", e.Value, e.Metadata, e.Expiration)
		}
	})

	sub("Metadata", func(t *testing.T, h Harness) {
		md := json.RawMessage(`{"setBy":"alice","rev":3,"nested":{"a":[1,2]}}`)
		mustPut(t, h.Store, "m", []byte("v"), kvstore.PutOptions{Metadata: md})
		e := mustGet(t, h.Store, "m")
		if !jsonEqual(e.Metadata, md) {
			t.Errorf("metadata = %s, want %s", e.Metadata, md)
		}
		page, err := h.Store.List(ctx, kvstore.ListOptions{Prefix: "m"})
		if err != nil || len(page.Keys) != 1 || !jsonEqual(page.Keys[0].Metadata, md) {
			t.Errorf("List metadata = %+v, %v; want %s", page.Keys, err, md)
		}
	})

	sub("Delete", func(t *testing.T, h Harness) {
		mustPut(t, h.Store, "d", []byte("v"), kvstore.PutOptions{})
		if err := h.Store.Delete(ctx, "d"); err != nil {
			t.Fatal(err)
		}
		if _, err := h.Store.Get(ctx, "d"); !errors.Is(err, kvstore.ErrNotFound) {
			t.Errorf("Get after Delete = %v, want ErrNotFound", err)
		}
		if err := h.Store.Delete(ctx, "never-existed"); err != nil {
			t.Errorf("Delete(missing) = %v, want nil", err)
		}
	})

	sub("Limits", func(t *testing.T, h Harness) {
		big := bytes.Repeat([]byte("x"), kvstore.MaxValueBytes+1)
		tests := []struct {
			name  string
			err   error
			limit string
		}{
			{"key too long", h.Store.Put(ctx, strings.Repeat("k", kvstore.MaxKeyBytes+1), []byte("v"), kvstore.PutOptions{}), "key-size"},
			{"empty key", h.Store.Put(ctx, "", []byte("v"), kvstore.PutOptions{}), "key-name"},
			{"dot key", h.Store.Put(ctx, ".", []byte("v"), kvstore.PutOptions{}), "key-name"},
			{"dotdot key", h.Store.Put(ctx, "..", []byte("v"), kvstore.PutOptions{}), "key-name"},
			{"get dot key", getErr(h.Store.Get(ctx, "..")), "key-name"},
			{"value too big", h.Store.Put(ctx, "big", big, kvstore.PutOptions{}), "value-size"},
			{"metadata too big", h.Store.Put(ctx, "m", []byte("v"), kvstore.PutOptions{Metadata: json.RawMessage(`{"a":"` + strings.Repeat("x", 1020) + `"}`)}), "metadata-size"},
			{"metadata not an object", h.Store.Put(ctx, "m", []byte("v"), kvstore.PutOptions{Metadata: json.RawMessage(`[1,2]`)}), "metadata-json"},
			{"ttl below 60s", h.Store.Put(ctx, "t", []byte("v"), kvstore.PutOptions{TTL: 59 * time.Second}), "ttl"},
			{"expiration too soon", h.Store.Put(ctx, "t", []byte("v"), kvstore.PutOptions{Expiration: h.Now().Add(59 * time.Second)}), "expiration"},
			{"list limit", listErr(h.Store.List(ctx, kvstore.ListOptions{Limit: kvstore.MaxListLimit + 1})), "list-limit"},
			{"list prefix too long", listErr(h.Store.List(ctx, kvstore.ListOptions{Prefix: strings.Repeat("p", kvstore.MaxKeyBytes+1)})), "key-size"},
		}
		for _, tc := range tests {
			var le *kvstore.LimitError
			if !errors.As(tc.err, &le) || le.Limit != tc.limit {
				t.Errorf("%s: err = %v, want *LimitError %q", tc.name, tc.err, tc.limit)
			}
		}
		for _, k := range []string{"big", "m", "t"} {
			if _, err := h.Store.Get(ctx, k); !errors.Is(err, kvstore.ErrNotFound) {
				t.Errorf("a refused write left %q behind: %v", k, err)
			}
		}
		if !opts.SkipLargeValues {
			mustPut(t, h.Store, "max", big[:kvstore.MaxValueBytes], kvstore.PutOptions{})
			if e := mustGet(t, h.Store, "max"); len(e.Value) != kvstore.MaxValueBytes {
				t.Errorf("25 MiB value read back as %d bytes", len(e.Value))
			}
		}
		mustPut(t, h.Store, "ok-md", []byte("v"), kvstore.PutOptions{Metadata: json.RawMessage(`{"a":"` + strings.Repeat("x", 1016) + `"}`)})
		mustPut(t, h.Store, "ok-ttl", []byte("v"), kvstore.PutOptions{TTL: kvstore.MinTTL})
	})

	sub("ExpiryExact", func(t *testing.T, h Harness) {
		if h.Advance == nil {
			t.Skip("needs a clock the harness can move (a real account's expiry is not waited for)")
		}
		mustPut(t, h.Store, "ttl", []byte("v"), kvstore.PutOptions{TTL: 60 * time.Second})
		mustPut(t, h.Store, "abs", []byte("v"), kvstore.PutOptions{Expiration: h.Now().Add(120 * time.Second)})
		mustPut(t, h.Store, "both", []byte("v"), kvstore.PutOptions{TTL: 60 * time.Second, Expiration: h.Now().Add(3600 * time.Second)})
		want := h.Now().Add(60 * time.Second)
		if e := mustGet(t, h.Store, "ttl"); !e.Expiration.Equal(want) {
			t.Errorf("Expiration = %v, want %v", e.Expiration, want)
		}
		h.Advance(59 * time.Second)
		mustGet(t, h.Store, "ttl")
		h.Advance(time.Second) // exactly at expiry: gone
		for _, k := range []string{"ttl", "both"} {
			if _, err := h.Store.Get(ctx, k); !errors.Is(err, kvstore.ErrNotFound) {
				t.Errorf("Get(%s) at its expiry = %v, want ErrNotFound (TTL wins over expiration)", k, err)
			}
		}
		page, err := h.Store.List(ctx, kvstore.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := names(page); got != "abs" {
			t.Errorf("List at the expiry of ttl = %s, want abs", got)
		}
		h.Advance(60 * time.Second)
		if _, err := h.Store.Get(ctx, "abs"); !errors.Is(err, kvstore.ErrNotFound) {
			t.Errorf("Get(abs) at its expiration = %v, want ErrNotFound", err)
		}
	})

	sub("ListSortedPagedPrefix", func(t *testing.T, h Harness) {
		keys := []string{"b", "a", "a/1", "a/2", "a/10", "A", "ab", "é", "z", "a/\x00"}
		for _, k := range keys {
			mustPut(t, h.Store, k, []byte("v"), kvstore.PutOptions{})
		}
		page, err := h.Store.List(ctx, kvstore.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sorted := append([]string(nil), keys...)
		sort.Strings(sorted)
		if got, want := names(page), strings.Join(sorted, ","); got != want || page.Cursor != "" {
			t.Errorf("List = %q (cursor %q), want %q in byte order and no cursor", got, page.Cursor, want)
		}
		page, err = h.Store.List(ctx, kvstore.ListOptions{Prefix: "a/"})
		if err != nil {
			t.Fatal(err)
		}
		if got := names(page); got != "a/\x00,a/1,a/10,a/2" {
			t.Errorf("List(prefix a/) = %q", got)
		}
		// Pages of 3 visit every key once, re-sending the prefix each time.
		var all []string
		cursor := ""
		for i := 0; ; i++ {
			p, err := h.Store.List(ctx, kvstore.ListOptions{Prefix: "a", Cursor: cursor, Limit: 3})
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Keys) > 3 {
				t.Fatalf("page of %d keys with limit 3", len(p.Keys))
			}
			for _, k := range p.Keys {
				all = append(all, k.Name)
			}
			if p.Cursor == "" {
				break
			}
			if i > 10 {
				t.Fatal("listing does not end")
			}
			cursor = p.Cursor
		}
		if got := strings.Join(all, ","); got != "a,a/\x00,a/1,a/10,a/2,ab" {
			t.Errorf("paged listing = %q", got)
		}
	})

	sub("ListDefaultPage", func(t *testing.T, h Harness) {
		if opts.RateLimited {
			t.Skip("writes 1,005 keys: more than a real account's rate limit allows in one run")
		}
		for i := 0; i < kvstore.MaxListLimit+5; i++ {
			mustPut(t, h.Store, fmt.Sprintf("k%05d", i), nil, kvstore.PutOptions{})
		}
		p, err := h.Store.List(ctx, kvstore.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Keys) != kvstore.MaxListLimit || p.Cursor == "" {
			t.Fatalf("first page: %d keys, cursor %q; want %d and a cursor", len(p.Keys), p.Cursor, kvstore.MaxListLimit)
		}
		p, err = h.Store.List(ctx, kvstore.ListOptions{Cursor: p.Cursor})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Keys) != 5 || p.Cursor != "" || p.Keys[0].Name != "k01000" {
			t.Errorf("second page: %d keys from %v, cursor %q", len(p.Keys), p.Keys, p.Cursor)
		}
	})

	sub("BadCursor", func(t *testing.T, h Harness) {
		_, err := h.Store.List(ctx, kvstore.ListOptions{Cursor: "%%%not-a-cursor"})
		var le *kvstore.LimitError
		if !errors.As(err, &le) || le.Limit != "cursor" {
			t.Errorf("List(bad cursor) = %v, want *LimitError cursor", err)
		}
	})

	sub("Concurrent", func(t *testing.T, h Harness) {
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for i := 0; i < 10; i++ {
					if err := h.Store.Put(ctx, fmt.Sprintf("c/%d/%d", g, i), []byte("v"), kvstore.PutOptions{}); err != nil {
						errs <- err
					}
				}
			}(g)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		p, err := h.Store.List(ctx, kvstore.ListOptions{Prefix: "c/"})
		if err != nil || len(p.Keys) != 40 {
			t.Errorf("after concurrent puts: %d keys, %v; want 40", len(p.Keys), err)
		}
	})

	sub("Update", func(t *testing.T, h Harness) {
		incr := func(cur *kvstore.Entry) ([]byte, kvstore.PutOptions, error) {
			n := 0
			if cur != nil {
				fmt.Sscan(string(cur.Value), &n)
			}
			return []byte(fmt.Sprint(n + 1)), kvstore.PutOptions{}, nil
		}
		workers, each := 1, 20
		if _, atomic := h.Store.(kvstore.Updater); atomic {
			workers = 4 // only atomic stores promise no lost update across writers
		}
		var wg sync.WaitGroup
		for g := 0; g < workers; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					if err := kvstore.Update(ctx, h.Store, "counter", incr); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if got := string(mustGet(t, h.Store, "counter").Value); got != fmt.Sprint(workers*each) {
			t.Errorf("counter = %s after %d updates: updates were lost", got, workers*each)
		}
		boom := errors.New("refused")
		err := kvstore.Update(ctx, h.Store, "counter", func(*kvstore.Entry) ([]byte, kvstore.PutOptions, error) { return nil, kvstore.PutOptions{}, boom })
		if !errors.Is(err, boom) || string(mustGet(t, h.Store, "counter").Value) != fmt.Sprint(workers*each) {
			t.Errorf("a refusing update: err %v, and it must write nothing", err)
		}
	})

	sub("CanceledContext", func(t *testing.T, h Harness) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := h.Store.Put(cctx, "k", []byte("v"), kvstore.PutOptions{}); !errors.Is(err, context.Canceled) {
			t.Errorf("Put with a canceled context = %v, want context.Canceled", err)
		}
		if _, err := h.Store.Get(cctx, "k"); !errors.Is(err, context.Canceled) {
			t.Errorf("Get with a canceled context = %v, want context.Canceled", err)
		}
	})

	runTransact(t, newHarness, opts)
}

func getErr(_ kvstore.Entry, err error) error       { return err }
func listErr(_ kvstore.ListResult, err error) error { return err }

func mustPut(t *testing.T, s kvstore.Store, key string, value []byte, opts kvstore.PutOptions) {
	t.Helper()
	if err := s.Put(context.Background(), key, value, opts); err != nil {
		t.Fatalf("Put(%.40q): %v", key, err)
	}
}

func mustGet(t *testing.T, s kvstore.Store, key string) kvstore.Entry {
	t.Helper()
	e, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%.40q): %v", key, err)
	}
	return e
}

func names(p kvstore.ListResult) string {
	var out []string
	for _, k := range p.Keys {
		out = append(out, k.Name)
	}
	return strings.Join(out, ",")
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}
