package cloudflare_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/cfemu"
	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/kvstore"
)

// TestKV_FaultsNoLostNoDuplicated (KV-1, KV-10): 10,000 override writes
// against an emulator that answers 30 % of requests with 500, 502, 503 or
// 429, or resets the connection (before or after applying the write).
// Every write must be acknowledged, the final state must hold exactly the
// 10,000 values, and every attempt of a write must send the same bytes.
func TestKV_FaultsNoLostNoDuplicated(t *testing.T) {
	n := 10_000
	if testing.Short() {
		n = 1_000
	}
	const prefix = "edgeconf/v1/overrides/test/"
	var mu sync.Mutex
	attempts := map[string]int{}
	applies := map[string]int{}
	bodies := map[string]map[[32]byte]bool{}
	faults := map[string]int{}
	// Emulator and client share a fake clock, so the second a write must
	// wait before it may touch its key again after a lost answer (the
	// emulator's one-write-per-second rule) takes no real time.
	e := newEnv(t, envOptions{
		emu: cfemu.Options{FailRate: 0.3, Seed: 1, OnRequest: func(ev cfemu.Event) {
			mu.Lock()
			defer mu.Unlock()
			faults[ev.Fault]++
			if ev.Method != http.MethodPut || !strings.Contains(ev.Path, "/values/") {
				return
			}
			attempts[ev.Path]++
			if ev.Applied {
				applies[ev.Path]++
			}
			if bodies[ev.Path] == nil {
				bodies[ev.Path] = map[[32]byte]bool{}
			}
			bodies[ev.Path][ev.BodySHA256] = true
		}},
		client: cloudflare.Options{Retry: cloudflare.RetryPolicy{MaxAttempts: 21, BaseDelay: time.Millisecond, MaxDelay: 20 * time.Millisecond}},
	})
	kv := e.namespace(t, "CONFIG")
	ctx := context.Background()

	start := time.Now() // real time, for the log
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				md := fmt.Sprintf(`{"setBy":"fault-test","rev":%d}`, i)
				if err := kv.Put(ctx, fmt.Sprintf("%spath.%05d", prefix, i), []byte(fmt.Sprintf(`{"value":%d}`, i)), kvstore.PutOptions{Metadata: json.RawMessage(md)}); err != nil {
					failed.Add(1)
					t.Errorf("write %d failed: %v", i, err)
				}
			}
		}()
	}
	wg.Wait()
	writes := time.Since(start)

	// Read everything back, faults still on.
	seen := map[string]int{}
	cursor := ""
	for {
		page, err := kv.List(ctx, kvstore.ListOptions{Prefix: prefix, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range page.Keys {
			var md struct{ Rev int }
			if err := json.Unmarshal(k.Metadata, &md); err != nil {
				t.Fatalf("%s: metadata %s: %v", k.Name, k.Metadata, err)
			}
			seen[k.Name]++
			if want := fmt.Sprintf("%spath.%05d", prefix, md.Rev); want != k.Name {
				t.Errorf("%s holds the metadata of %s", k.Name, want)
			}
		}
		if page.Cursor == "" {
			break
		}
		cursor = page.Cursor
	}
	lost, duplicated := 0, 0
	for i := 0; i < n; i++ {
		switch seen[fmt.Sprintf("%spath.%05d", prefix, i)] {
		case 0:
			lost++
		case 1:
		default:
			duplicated++
		}
	}
	duplicated += len(seen) - (n - lost)
	for i := 0; i < n; i += n / 100 {
		got, err := kv.Get(ctx, fmt.Sprintf("%spath.%05d", prefix, i))
		if err != nil || string(got.Value) != fmt.Sprintf(`{"value":%d}`, i) {
			t.Errorf("Get(path.%05d) = %q, %v", i, got.Value, err)
		}
	}

	mu.Lock()
	defer mu.Unlock()
	total, maxAttempts, reapplied, mismatched := 0, 0, 0, 0
	for path, a := range attempts {
		total += a
		maxAttempts = max(maxAttempts, a)
		if applies[path] > 1 {
			reapplied++ // the same bytes applied again after a lost answer: harmless
		}
		if len(bodies[path]) != 1 {
			mismatched++
		}
	}
	t.Logf("%d writes in %v: %d attempts (max %d for one write), faults %v, %d writes re-applied with identical bytes after a lost answer",
		n, writes.Round(time.Millisecond), total, maxAttempts, faults, reapplied)
	if failed.Load() != 0 || lost != 0 || duplicated != 0 {
		t.Errorf("failures seen by callers %d, lost %d, duplicated %d; want 0, 0, 0", failed.Load(), lost, duplicated)
	}
	if mismatched != 0 {
		t.Errorf("%d writes sent different bodies on different attempts", mismatched)
	}
	if maxAttempts > 21 {
		t.Errorf("a write took %d attempts; at most 20 retries", maxAttempts)
	}
}
