package overrides_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/local"
	"github.com/factory-wager/edgeconf/overrides"
)

// clock is a settable clock shared by a Manager and its store.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// openLocal opens a fresh local state folder on clock c and returns its
// CONFIG namespace.
func openLocal(t *testing.T, c *clock) *local.KV {
	t.Helper()
	st, err := local.Open(local.Options{Dir: filepath.Join(t.TempDir(), "state"), Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st.KV("CONFIG")
}

// backends are the stores the integrity tests run on: both Transactors.
func backends(t *testing.T) map[string]func(c *clock) kvstore.Store {
	return map[string]func(c *clock) kvstore.Store{
		"memory": func(c *clock) kvstore.Store { return kvstore.NewMemory(c.Now) },
		"local":  func(c *clock) kvstore.Store { return openLocal(t, c) },
	}
}

func set(t *testing.T, m *overrides.Manager, path string, v any, o overrides.SetOptions) overrides.Record {
	t.Helper()
	rec, err := m.Set(context.Background(), path, v, o)
	if err != nil {
		t.Fatalf("Set(%s, %v): %v", path, v, err)
	}
	return rec
}

// TestSet_RefusesAnExpiryIntoAnInvalidConfig: ports.main 9000 for an hour
// and then ports.dashboard 8091 (main's file value) would leave both at
// 8091 after the hour: the second set is refused, naming the finding and
// the expiry.
func TestSet_RefusesAnExpiryIntoAnInvalidConfig(t *testing.T) {
	f := newFixture(t, "")
	ctx := context.Background()
	mustSet(t, f, "ports.main", 9000, overrides.SetOptions{TTL: time.Hour})
	_, err := f.m.Set(ctx, "ports.dashboard", 8091, overrides.SetOptions{})
	var refused *overrides.RefusedError
	want := "once ports.main expires at " + t0.Add(time.Hour).Format(time.RFC3339)
	if !errors.As(err, &refused) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "8091") {
		t.Fatalf("Set ports.dashboard 8091 = %v, want a refusal naming the clash and %q", err, want)
	}
	if _, err := f.m.Get(ctx, "ports.dashboard"); !errors.Is(err, overrides.ErrNotFound) {
		t.Errorf("refused override was written: %v", err)
	}
	// The same value with a TTL that ends no later than main's is fine:
	// both expire together.
	if _, err := f.m.Set(ctx, "ports.dashboard", 8091, overrides.SetOptions{TTL: time.Hour}); err != nil {
		t.Errorf("Set ports.dashboard 8091 expiring with main: %v", err)
	}
	// A TTL on an override whose expiry restores a clash is refused too.
	g := newFixture(t, "")
	mustSet(t, g, "ports.main", 9000, overrides.SetOptions{})
	mustSet(t, g, "ports.dashboard", 8091, overrides.SetOptions{TTL: 2 * time.Hour})
	_, err = g.m.Set(ctx, "ports.main", 9001, overrides.SetOptions{TTL: time.Hour})
	if !errors.As(err, &refused) || !strings.Contains(err.Error(), "once ports.main expires at") {
		t.Errorf("Set ports.main 9001 for 1h under dashboard 8091 for 2h = %v, want refused", err)
	}
	// And what readers see at every later instant stays valid.
	for range 4 {
		*g.now = g.now.Add(time.Hour)
		snap, err := g.m.Resolve(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if rep := g.m.Validate(ctx, snap, *g.now); rep.Failed(false) {
			t.Fatalf("at %s the effective configuration is invalid: %v", g.now, rep)
		}
	}
}

// TestDelete_RefusedWhenItBreaksTheConfig: deleting ports.main 9000 under
// ports.dashboard 8091 would leave both at 8091.
func TestDelete_RefusedWhenItBreaksTheConfig(t *testing.T) {
	f := newFixture(t, "")
	ctx := context.Background()
	mustSet(t, f, "ports.main", 9000, overrides.SetOptions{})
	mustSet(t, f, "ports.dashboard", 8091, overrides.SetOptions{})
	err := f.m.Delete(ctx, "ports.main", "bob")
	var refused *overrides.RefusedError
	if !errors.As(err, &refused) || !strings.Contains(err.Error(), "once ports.main is deleted") {
		t.Fatalf("Delete ports.main = %v, want refused", err)
	}
	if _, err := f.m.Get(ctx, "ports.main"); err != nil {
		t.Errorf("refused delete removed the override: %v", err)
	}
	if err := f.m.Delete(ctx, "ports.dashboard", "bob"); err != nil {
		t.Fatal(err)
	}
	if err := f.m.Delete(ctx, "ports.main", "bob"); err != nil {
		t.Fatal(err)
	}
}

// TestSet_RevisionsNeverRepeat: after a delete and after an expiry the
// next set of the path gets a higher revision, not 1 again; and the
// revision counter is not an override.
func TestSet_RevisionsNeverRepeat(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			c := &clock{t: t0}
			store := mk(c)
			m := overrides.New(overrides.Options{Store: store, Doc: loadSeed(t, ""), By: "alice", Now: c.Now})
			ctx := context.Background()
			const path = "features.premium.rolloutPercentage"
			var revs []int64
			revs = append(revs, set(t, m, path, 10.0, overrides.SetOptions{}).Rev)
			revs = append(revs, set(t, m, path, 20.0, overrides.SetOptions{TTL: time.Minute}).Rev)
			c.Advance(2 * time.Minute) // expired
			if _, err := m.Get(ctx, path); !errors.Is(err, overrides.ErrNotFound) {
				t.Fatalf("after expiry: %v", err)
			}
			revs = append(revs, set(t, m, path, 30.0, overrides.SetOptions{}).Rev)
			if err := m.Delete(ctx, path, "bob"); err != nil {
				t.Fatal(err)
			}
			revs = append(revs, set(t, m, path, 40.0, overrides.SetOptions{}).Rev)
			for i, r := range revs {
				if r != int64(i+1) {
					t.Fatalf("revisions %v, want 1 2 3 4", revs)
				}
			}
			list, err := m.List(ctx, "")
			if err != nil || len(list) != 1 || list[0].Path != path {
				t.Errorf("List = %+v, %v; want the one override", list, err)
			}
			hist, err := m.History(ctx, "")
			if err != nil || len(hist) != 5 {
				t.Errorf("History: %d records (%v), want 5", len(hist), err)
			}
		})
	}
}

// TestSet_ConcurrentClashingSetsOneWins sets ports.dashboard and
// ports.compliance to the same port from two goroutines at once: each is
// valid alone, together they clash. Exactly one may be acknowledged.
// Run with -count=50.
func TestSet_ConcurrentClashingSetsOneWins(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			doc := loadSeed(t, "")
			for round := range 10 {
				c := &clock{t: t0}
				store := mk(c)
				m := overrides.New(overrides.Options{Store: store, Doc: doc, By: "alice", Now: c.Now})
				paths := []string{"ports.dashboard", "ports.compliance"}
				errs := make([]error, len(paths))
				start := make(chan struct{})
				var wg sync.WaitGroup
				for i, p := range paths {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						_, errs[i] = m.Set(context.Background(), p, 4000, overrides.SetOptions{})
					}()
				}
				close(start)
				wg.Wait()
				ok := 0
				for i, err := range errs {
					var refused *overrides.RefusedError
					switch {
					case err == nil:
						ok++
					case !errors.As(err, &refused):
						t.Fatalf("round %d: Set %s: %v", round, paths[i], err)
					}
				}
				if ok != 1 {
					t.Fatalf("round %d: %d of 2 clashing sets acknowledged (%v), want exactly 1", round, ok, errs)
				}
				snap, err := m.Resolve(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if rep := m.Validate(context.Background(), snap, c.Now()); rep.Failed(false) {
					t.Fatalf("round %d: effective configuration invalid: %v", round, rep)
				}
			}
		})
	}
}

// raceStore is a store without transactions (as Workers KV) on which
// another writer sets a clashing override just before the first write
// of a set lands.
type raceStore struct {
	kvstore.Store
	once  sync.Once
	other func()
}

func (r *raceStore) Put(ctx context.Context, key string, value []byte, opts kvstore.PutOptions) error {
	r.once.Do(r.other)
	return r.Store.Put(ctx, key, value, opts)
}

// TestSet_RemoteConflictIsReported: on a store without transactions the
// check cannot exclude a concurrent clashing set; reading back after the
// write reports it with a *ConflictError instead of acknowledging.
func TestSet_RemoteConflictIsReported(t *testing.T) {
	c := &clock{t: t0}
	mem := kvstore.NewMemory(c.Now)
	doc := loadSeed(t, "")
	other := overrides.New(overrides.Options{Store: mem, Doc: doc, By: "bob", Now: c.Now})
	rs := &raceStore{Store: mem, other: func() {
		if _, err := other.Set(context.Background(), "ports.compliance", 4000, overrides.SetOptions{}); err != nil {
			t.Errorf("concurrent Set: %v", err)
		}
	}}
	m := overrides.New(overrides.Options{Store: rs, Doc: doc, By: "alice", Now: c.Now})
	rec, err := m.Set(context.Background(), "ports.dashboard", 4000, overrides.SetOptions{})
	var conflict *overrides.ConflictError
	if !errors.As(err, &conflict) || conflict.Record.Path != "ports.dashboard" || !strings.Contains(err.Error(), "4000") {
		t.Fatalf("Set = %+v, %v; want a *ConflictError naming the clash", rec, err)
	}
}

// crashStore is a store without transactions that fails every write
// after the first left: a crash between writes.
type crashStore struct {
	kvstore.Store
	left int
}

var errCrash = errors.New("simulated crash")

func (c *crashStore) Put(ctx context.Context, key string, value []byte, opts kvstore.PutOptions) error {
	if c.left == 0 {
		return errCrash
	}
	c.left--
	return c.Store.Put(ctx, key, value, opts)
}

func (c *crashStore) Delete(ctx context.Context, key string) error {
	if c.left == 0 {
		return errCrash
	}
	c.left--
	return c.Store.Delete(ctx, key)
}

// crashTransactor fails its transaction after the first left writes, as
// a kill in the middle of it would; nothing of it may stay.
type crashTransactor struct {
	*local.KV
	left int
}

func (c *crashTransactor) Transact(ctx context.Context, fn func(kvstore.Txn) error) error {
	return c.KV.Transact(ctx, func(tx kvstore.Txn) error {
		return fn(&crashTxn{Txn: tx, c: c})
	})
}

type crashTxn struct {
	kvstore.Txn
	c *crashTransactor
}

func (t *crashTxn) Put(key string, value []byte, opts kvstore.PutOptions) error {
	if t.c.left == 0 {
		return errCrash
	}
	t.c.left--
	return t.Txn.Put(key, value, opts)
}

func (t *crashTxn) Delete(key string) error {
	if t.c.left == 0 {
		return errCrash
	}
	t.c.left--
	return t.Txn.Delete(key)
}

// TestSet_EveryCommittedRevisionIsAudited crashes Set and Delete after
// every possible number of writes, on the local bbolt store (one
// transaction) and on a store without transactions (ordered writes), and
// checks that the current revision and every acknowledged one has
// exactly one audit record.
func TestSet_EveryCommittedRevisionIsAudited(t *testing.T) {
	const path = "features.premium.rolloutPercentage"
	ctx := context.Background()
	c := &clock{t: t0}
	lkv := openLocal(t, c)
	mem := kvstore.NewMemory(c.Now)
	stores := map[string]struct {
		backing kvstore.Store
		crash   func(n int) kvstore.Store
	}{
		"local transaction": {lkv, func(n int) kvstore.Store { return &crashTransactor{KV: lkv, left: n} }},
		"ordered writes":    {mem, func(n int) kvstore.Store { return &crashStore{Store: mem, left: n} }},
	}
	for name, s := range stores {
		t.Run(name, func(t *testing.T) {
			committed := map[int64]bool{}
			for round := range 16 {
				c.Advance(time.Second)
				m := overrides.New(overrides.Options{Store: s.crash(round % 4), Doc: loadSeed(t, ""), By: "crash", Now: c.Now})
				var err error
				if round%5 == 4 {
					err = m.Delete(ctx, path, "crash")
				} else {
					var rec overrides.Record
					rec, err = m.Set(ctx, path, float64(round), overrides.SetOptions{})
					if err == nil {
						committed[rec.Rev] = true
					}
				}
				if err != nil && !errors.Is(err, errCrash) && !errors.Is(err, overrides.ErrNotFound) {
					t.Fatalf("round %d: %v", round, err)
				}
				// What a reader finds after the crash.
				r := overrides.New(overrides.Options{Store: s.backing, Doc: loadSeed(t, ""), Now: c.Now})
				checkAudited(t, ctx, r, path, committed, round)
			}
			if len(committed) == 0 {
				t.Fatal("no set got through: the test checks nothing")
			}
		})
	}
}

// TestKeyLayout_CountersAreNotOverrides: the revision counters and audit
// records live outside edgeconf/v1/overrides/, the prefix Go's List and
// Export and the Worker (worker/overrides.js) read, for every
// environment, even one named like a counter folder.
func TestKeyLayout_CountersAreNotOverrides(t *testing.T) {
	js, err := os.ReadFile("../worker/overrides.js")
	if err != nil {
		t.Fatal(err)
	}
	const decl = `export const PREFIX = "`
	i := strings.Index(string(js), decl)
	if i < 0 {
		t.Fatal("worker/overrides.js declares no PREFIX")
	}
	jsPrefix, _, _ := strings.Cut(string(js)[i+len(decl):], `"`)
	if jsPrefix != overrides.OverrideKey("x", "")[:len(overrides.Prefix+"overrides/")] {
		t.Fatalf("worker/overrides.js PREFIX %q, Go reads %q", jsPrefix, overrides.Prefix+"overrides/")
	}
	for _, env := range []string{"", "revs", "audit", "prod"} {
		for _, k := range []string{overrides.RevKey(env, "ports.main"), overrides.AuditPrefix(env) + "t"} {
			if strings.HasPrefix(k, jsPrefix) {
				t.Errorf("key %q is under the overrides prefix %q", k, jsPrefix)
			}
		}
	}

	c := &clock{t: t0}
	store := kvstore.NewMemory(c.Now)
	ctx := context.Background()
	for _, env := range []string{"", "revs"} {
		m := overrides.New(overrides.Options{Store: store, Doc: loadSeed(t, ""), Env: env, Now: c.Now})
		set(t, m, "features.premium.rolloutPercentage", 40.0, overrides.SetOptions{})
		set(t, m, "ports.main", 9000, overrides.SetOptions{TTL: time.Minute})
		set(t, m, "cloudflare.vars.REGION", "eu", overrides.SetOptions{})
		if err := m.Delete(ctx, "cloudflare.vars.REGION", ""); err != nil {
			t.Fatal(err)
		}
	}
	c.Advance(time.Hour) // ports.main expired; its counter stays
	for _, env := range []string{"", "revs"} {
		m := overrides.New(overrides.Options{Store: store, Doc: loadSeed(t, ""), Env: env, Now: c.Now})
		list, err := m.List(ctx, "")
		if err != nil || len(list) != 1 || list[0].Path != "features.premium.rolloutPercentage" {
			t.Errorf("env %q: List = %+v, %v; want the one live override", env, list, err)
		}
		var buf strings.Builder
		if err := m.Export(ctx, &buf, overrides.ExportOptions{Format: "wrangler-bulk"}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), overrides.OverrideKey(env, "features.premium.rolloutPercentage")) || strings.Count(buf.String(), `"key"`) != 1 {
			t.Errorf("env %q: export holds more than the override:\n%s", env, buf.String())
		}
		snap, err := m.Resolve(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if rep := m.Validate(ctx, snap, c.Now()); rep.Failed(false) {
			t.Errorf("env %q: validate fails: %+v", env, rep)
		}
	}
}

// TestSet_RevisionsContinueFromOlderHistory: a path whose override was
// written, and then removed, by an edgeconf without revision counters
// continues after the revisions its audit records name.
func TestSet_RevisionsContinueFromOlderHistory(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			c := &clock{t: t0}
			store := mk(c)
			m := overrides.New(overrides.Options{Store: store, Doc: loadSeed(t, ""), Now: c.Now})
			ctx := context.Background()
			const path = "features.premium.rolloutPercentage"
			for v := range 3 {
				set(t, m, path, float64(v), overrides.SetOptions{})
			}
			// What an older edgeconf leaves: no counter, override gone.
			for _, k := range []string{overrides.RevKey("", path), overrides.OverrideKey("", path)} {
				if err := store.Delete(ctx, k); err != nil {
					t.Fatal(err)
				}
			}
			if rec := set(t, m, path, 50.0, overrides.SetOptions{}); rec.Rev != 4 {
				t.Errorf("set after older history: rev %d, want 4", rec.Rev)
			}
			if err := store.Put(ctx, overrides.RevKey("", path), []byte("x"), kvstore.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			_, err := m.Set(ctx, path, 60.0, overrides.SetOptions{})
			if err == nil || !strings.Contains(err.Error(), overrides.RevKey("", path)) {
				t.Errorf("set with a corrupt counter = %v, want an error naming it", err)
			}
		})
	}
}

// checkAudited reports, after a crash in round, a current or acknowledged
// revision of path without exactly one audit record, and a revision
// handed out twice.
func checkAudited(t *testing.T, ctx context.Context, m *overrides.Manager, path string, acked map[int64]bool, round int) {
	t.Helper()
	hist, err := m.History(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	audited := map[int64]int{}
	for _, h := range hist {
		if h.Action == "set" {
			audited[h.Rev]++
		}
	}
	if cur, err := m.Get(ctx, path); err == nil && audited[cur.Rev] != 1 {
		t.Errorf("round %d: current revision %d has %d audit records, want 1", round, cur.Rev, audited[cur.Rev])
	}
	for rev := range acked {
		if audited[rev] != 1 {
			t.Errorf("round %d: acknowledged revision %d has %d audit records, want 1", round, rev, audited[rev])
		}
	}
	for rev, n := range audited {
		if n > 1 {
			t.Errorf("round %d: revision %d handed out %d times", round, rev, n)
		}
	}
}
