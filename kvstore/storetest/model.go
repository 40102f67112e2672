package storetest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/factory-wager/edgeconf/kvstore"
)

// modelEntry is the model's view of one key.
type modelEntry struct {
	value string
	exp   time.Time
}

// RunModel is a state-machine property test: random puts (with and
// without TTL), deletes, gets, listings, clock advances and, on a
// kvstore.Transactor, transactions of those that commit or abort are
// applied to the store and to a plain map, and every read must agree. Each rapid run
// makes many checks; rapid's default of 100 runs gives thousands.
func RunModel(t *testing.T, newHarness func(t *testing.T) Harness) {
	ctx := context.Background()
	checks := 0
	// Each rapid.Check makes 100 random runs; repeat until the model has
	// been compared at least 2,000 times.
	for round := 0; round < 10 && checks < 2000 && !t.Failed(); round++ {
		rapid.Check(t, machine(ctx, newHarness, t, &checks))
	}
	t.Logf("model checks: %d", checks)
	if checks < 2000 {
		t.Errorf("only %d model checks ran; want at least 2,000", checks)
	}
}

func machine(ctx context.Context, newHarness func(t *testing.T) Harness, t *testing.T, checks *int) func(*rapid.T) {
	return func(rt *rapid.T) {
		h := newHarness(t)
		model := map[string]modelEntry{}
		keys := rapid.SampledFrom([]string{"a", "a/b", "a/c", "b", "ba", "é", "z/1", "z/2"})
		live := func(k string) (modelEntry, bool) {
			e, ok := model[k]
			// The model's own rule, independent of kvstore.Expired: a key is
			// gone from the second it expires.
			if ok && !e.exp.IsZero() && !h.Now().Before(e.exp) {
				return modelEntry{}, false
			}
			return e, ok
		}
		rt.Repeat(map[string]func(*rapid.T){
			"put": func(rt *rapid.T) {
				k := keys.Draw(rt, "key")
				v := rapid.StringN(0, 8, -1).Draw(rt, "value")
				var opts kvstore.PutOptions
				if rapid.Bool().Draw(rt, "ttl") {
					opts.TTL = time.Duration(rapid.IntRange(60, 180).Draw(rt, "secs")) * time.Second
				}
				if err := h.Store.Put(ctx, k, []byte(v), opts); err != nil {
					rt.Fatalf("Put(%q): %v", k, err)
				}
				e := modelEntry{value: v}
				if opts.TTL > 0 {
					e.exp = h.Now().Add(opts.TTL).Truncate(time.Second)
				}
				model[k] = e
			},
			"delete": func(rt *rapid.T) {
				k := keys.Draw(rt, "key")
				if err := h.Store.Delete(ctx, k); err != nil {
					rt.Fatalf("Delete(%q): %v", k, err)
				}
				delete(model, k)
			},
			"transact": func(rt *rapid.T) {
				tr, ok := h.Store.(kvstore.Transactor)
				if !ok {
					rt.Skip("the store has no transactions")
				}
				// A few writes and reads in one transaction, checked
				// against a copy of the model; the copy replaces the model
				// when the transaction commits and is dropped when it aborts.
				staged := map[string]modelEntry{}
				for k, e := range model {
					staged[k] = e
				}
				abort := rapid.Bool().Draw(rt, "abort")
				errAbort := errors.New("abort")
				err := tr.Transact(ctx, func(tx kvstore.Txn) error {
					for i, n := 0, rapid.IntRange(1, 5).Draw(rt, "ops"); i < n; i++ {
						k := keys.Draw(rt, "key")
						switch rapid.IntRange(0, 3).Draw(rt, "op") {
						case 0:
							v := rapid.StringN(0, 8, -1).Draw(rt, "value")
							var opts kvstore.PutOptions
							if rapid.Bool().Draw(rt, "ttl") {
								opts.TTL = time.Duration(rapid.IntRange(60, 180).Draw(rt, "secs")) * time.Second
							}
							if err := tx.Put(k, []byte(v), opts); err != nil {
								return fmt.Errorf("Put(%q) in a transaction: %w", k, err)
							}
							e := modelEntry{value: v}
							if opts.TTL > 0 {
								e.exp = h.Now().Add(opts.TTL).Truncate(time.Second)
							}
							staged[k] = e
						case 1:
							if err := tx.Delete(k); err != nil {
								return fmt.Errorf("Delete(%q) in a transaction: %w", k, err)
							}
							delete(staged, k)
						case 2:
							got, err := tx.Get(k)
							want, ok := staged[k]
							if ok && !want.exp.IsZero() && !h.Now().Before(want.exp) {
								ok = false
							}
							*checks++
							switch {
							case err != nil:
								return fmt.Errorf("Get(%q) in a transaction: %w", k, err)
							case !ok && got != nil:
								return fmt.Errorf("Get(%q) in a transaction = %q; model says absent", k, got.Value)
							case ok && (got == nil || string(got.Value) != want.value || !got.Expiration.Equal(want.exp)):
								return fmt.Errorf("Get(%q) in a transaction = %+v; model says %+v", k, got, want)
							}
						case 3:
							prefix := rapid.SampledFrom([]string{"", "a", "a/", "z/", "x"}).Draw(rt, "prefix")
							l, err := tx.List(prefix)
							if err != nil {
								return fmt.Errorf("List(%q) in a transaction: %w", prefix, err)
							}
							var got, want []string
							for _, e := range l {
								got = append(got, e.Key)
							}
							for k, e := range staged {
								if strings.HasPrefix(k, prefix) && (e.exp.IsZero() || h.Now().Before(e.exp)) {
									want = append(want, k)
								}
							}
							sort.Strings(want)
							*checks++
							if fmt.Sprint(got) != fmt.Sprint(want) {
								return fmt.Errorf("List(%q) in a transaction = %v, model %v", prefix, got, want)
							}
						}
					}
					if abort {
						return errAbort
					}
					return nil
				})
				switch {
				case abort && !errors.Is(err, errAbort):
					rt.Fatalf("aborted transaction: %v", err)
				case !abort && err != nil:
					rt.Fatal(err)
				case !abort:
					model = staged
				}
			},
			"advanceToExpiry": func(rt *rapid.T) {
				// Land exactly on an expiry, where off-by-one bugs live.
				var exps []time.Time
				for _, e := range model {
					if !e.exp.IsZero() && e.exp.After(h.Now()) {
						exps = append(exps, e.exp)
					}
				}
				if len(exps) == 0 {
					rt.Skip("no pending expiry")
				}
				sort.Slice(exps, func(i, j int) bool { return exps[i].Before(exps[j]) })
				h.Advance(exps[rapid.IntRange(0, len(exps)-1).Draw(rt, "which")].Sub(h.Now()))
			},
			"advance": func(rt *rapid.T) {
				h.Advance(time.Duration(rapid.IntRange(1, 90).Draw(rt, "secs")) * time.Second)
			},
			"get": func(rt *rapid.T) {
				k := keys.Draw(rt, "key")
				got, err := h.Store.Get(ctx, k)
				want, ok := live(k)
				*checks++
				switch {
				case !ok && !errors.Is(err, kvstore.ErrNotFound):
					rt.Fatalf("Get(%q) = %q, %v; model says absent at %v", k, got.Value, err, h.Now())
				case ok && (err != nil || string(got.Value) != want.value):
					rt.Fatalf("Get(%q) = %q, %v; model says %q", k, got.Value, err, want.value)
				case ok && !got.Expiration.Equal(want.exp):
					rt.Fatalf("Get(%q) expiration %v, model %v", k, got.Expiration, want.exp)
				}
			},
			"list": func(rt *rapid.T) {
				prefix := rapid.SampledFrom([]string{"", "a", "a/", "z/", "x"}).Draw(rt, "prefix")
				limit := rapid.IntRange(1, 4).Draw(rt, "limit")
				var got []string
				cursor := ""
				for i := 0; ; i++ {
					p, err := h.Store.List(ctx, kvstore.ListOptions{Prefix: prefix, Cursor: cursor, Limit: limit})
					if err != nil {
						rt.Fatalf("List: %v", err)
					}
					for _, k := range p.Keys {
						got = append(got, k.Name)
					}
					if p.Cursor == "" {
						break
					}
					if i > 20 {
						rt.Fatal("listing does not end")
					}
					cursor = p.Cursor
				}
				var want []string
				for k := range model {
					if _, ok := live(k); ok && strings.HasPrefix(k, prefix) {
						want = append(want, k)
					}
				}
				sort.Strings(want)
				*checks++
				if fmt.Sprint(got) != fmt.Sprint(want) {
					rt.Fatalf("List(%q, limit %d) = %v, model %v", prefix, limit, got, want)
				}
			},
		})
	}
}
