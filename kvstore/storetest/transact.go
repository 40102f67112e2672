package storetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/kvstore"
)

// runTransact runs the kvstore.Transactor cases; Run calls it, and they
// skip for a store without transactions (Workers KV).
func runTransact(t *testing.T, newHarness func(t *testing.T) Harness, opts Options) {
	ctx := context.Background()
	sub := func(name string, fn func(t *testing.T, h Harness, tr kvstore.Transactor)) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			tr, ok := h.Store.(kvstore.Transactor)
			if !ok {
				t.Skip("the store has no transactions")
			}
			fn(t, h, tr)
		})
	}

	sub("TransactCommit", func(t *testing.T, h Harness, tr kvstore.Transactor) {
		mustPut(t, h.Store, "old", []byte("x"), kvstore.PutOptions{})
		err := tr.Transact(ctx, func(tx kvstore.Txn) error {
			if err := tx.Put("t/a", []byte("1"), kvstore.PutOptions{Metadata: []byte(`{"rev":1}`)}); err != nil {
				return err
			}
			if err := tx.Put("t/b", []byte("2"), kvstore.PutOptions{TTL: time.Minute}); err != nil {
				return err
			}
			if err := tx.Delete("old"); err != nil {
				return err
			}
			if err := tx.Delete("never-there"); err != nil {
				return fmt.Errorf("deleting a missing key: %w", err)
			}
			// Reads see the transaction's own writes.
			if e, err := tx.Get("t/a"); err != nil || e == nil || string(e.Value) != "1" || !jsonEqual(e.Metadata, []byte(`{"rev":1}`)) {
				return fmt.Errorf("Get(t/a) in the transaction = %+v, %v", e, err)
			}
			if e, err := tx.Get("old"); err != nil || e != nil {
				return fmt.Errorf("Get(old) after its delete = %+v, %v; want nil", e, err)
			}
			l, err := tx.List("t/")
			if err != nil || len(l) != 2 || l[0].Key != "t/a" || l[1].Key != "t/b" {
				return fmt.Errorf("List(t/) in the transaction = %+v, %v", l, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if string(mustGet(t, h.Store, "t/a").Value) != "1" || string(mustGet(t, h.Store, "t/b").Value) != "2" {
			t.Error("committed writes missing")
		}
		if _, err := h.Store.Get(ctx, "old"); !errors.Is(err, kvstore.ErrNotFound) {
			t.Errorf("committed delete: Get(old) = %v", err)
		}
		if e := mustGet(t, h.Store, "t/b"); !e.Expiration.Equal(h.Now().Add(time.Minute).Truncate(time.Second)) {
			t.Errorf("t/b expires %v, want in a minute", e.Expiration)
		}
	})

	sub("TransactAbortWritesNothing", func(t *testing.T, h Harness, tr kvstore.Transactor) {
		mustPut(t, h.Store, "keep", []byte("v"), kvstore.PutOptions{})
		boom := errors.New("refused")
		err := tr.Transact(ctx, func(tx kvstore.Txn) error {
			_ = tx.Put("new", []byte("1"), kvstore.PutOptions{})
			_ = tx.Put("keep", []byte("changed"), kvstore.PutOptions{})
			_ = tx.Delete("keep")
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Transact = %v, want the function's error", err)
		}
		if _, err := h.Store.Get(ctx, "new"); !errors.Is(err, kvstore.ErrNotFound) {
			t.Errorf("aborted put landed: %v", err)
		}
		if string(mustGet(t, h.Store, "keep").Value) != "v" {
			t.Error("aborted overwrite or delete landed")
		}
	})

	sub("TransactChecksLimits", func(t *testing.T, h Harness, tr kvstore.Transactor) {
		err := tr.Transact(ctx, func(tx kvstore.Txn) error {
			if err := tx.Put("fine", []byte("1"), kvstore.PutOptions{}); err != nil {
				return err
			}
			return tx.Put(strings.Repeat("k", kvstore.MaxKeyBytes+1), []byte("v"), kvstore.PutOptions{})
		})
		if err == nil {
			t.Fatal("a key over the limit was accepted in a transaction")
		}
		if _, err := h.Store.Get(ctx, "fine"); !errors.Is(err, kvstore.ErrNotFound) {
			t.Errorf("a failed transaction left a write: %v", err)
		}
		if err := tr.Transact(ctx, func(tx kvstore.Txn) error {
			return tx.Put("short-ttl", []byte("v"), kvstore.PutOptions{TTL: time.Second})
		}); err == nil {
			t.Error("a TTL under 60 s was accepted in a transaction")
		}
	})

	sub("TransactExpiry", func(t *testing.T, h Harness, tr kvstore.Transactor) {
		if h.Advance == nil {
			t.Skip("real clock")
		}
		if err := tr.Transact(ctx, func(tx kvstore.Txn) error {
			return tx.Put("e", []byte("v"), kvstore.PutOptions{TTL: time.Minute})
		}); err != nil {
			t.Fatal(err)
		}
		h.Advance(time.Minute)
		if err := tr.Transact(ctx, func(tx kvstore.Txn) error {
			if e, err := tx.Get("e"); err != nil || e != nil {
				return fmt.Errorf("expired key in a transaction: %+v, %v", e, err)
			}
			if l, err := tx.List(""); err != nil || len(l) != 0 {
				return fmt.Errorf("the listing holds an expired key: %+v, %v", l, err)
			}
			return nil
		}); err != nil {
			t.Error(err)
		}
	})

	sub("TransactExcludesWriters", func(t *testing.T, h Harness, tr kvstore.Transactor) {
		// Two keys that must stay equal and a counter: read-modify-write
		// in concurrent transactions loses nothing and never shows half a
		// transaction.
		workers, each := 4, 25
		if opts.RateLimited {
			workers, each = 2, 5
		}
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					err := tr.Transact(ctx, func(tx kvstore.Txn) error {
						a, err := tx.Get("a")
						if err != nil {
							return err
						}
						b, err := tx.Get("b")
						if err != nil {
							return err
						}
						n := 0
						if a != nil {
							n, _ = strconv.Atoi(string(a.Value))
						}
						if (a == nil) != (b == nil) || (a != nil && string(a.Value) != string(b.Value)) {
							return fmt.Errorf("half a transaction seen: a %v, b %v", a, b)
						}
						v := []byte(strconv.Itoa(n + 1))
						if err := tx.Put("a", v, kvstore.PutOptions{}); err != nil {
							return err
						}
						return tx.Put("b", v, kvstore.PutOptions{})
					})
					if err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		want := strconv.Itoa(workers * each)
		if a, b := string(mustGet(t, h.Store, "a").Value), string(mustGet(t, h.Store, "b").Value); a != want || b != want {
			t.Errorf("a = %s, b = %s after %d transactions: updates were lost", a, b, workers*each)
		}
	})

	sub("TransactCanceledContext", func(t *testing.T, h Harness, tr kvstore.Transactor) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		ran := false
		err := tr.Transact(cctx, func(kvstore.Txn) error { ran = true; return nil })
		if !errors.Is(err, context.Canceled) || ran {
			t.Errorf("Transact with a canceled context = %v (ran %v), want context.Canceled", err, ran)
		}
	})
}
