package cloudflare_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/cfemu"
	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/kvstore"
)

// syncBuffer is a bytes.Buffer for concurrent log writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestCanaryToken (D-10): a canary token is used for a run of successful
// and failing calls (faults, limits, missing keys, a wrong token, the rate
// limit) with debug logging on both sides; it appears in no log, no error
// and no event.
func TestCanaryToken(t *testing.T) {
	const canary = "cftoken-CANARY-7f3a9c-do-not-leak"
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var events []string
	var mu sync.Mutex
	e := newEnv(t, envOptions{
		emu: cfemu.Options{Token: canary, FailRate: 0.2, Seed: 9, Logger: logger, OnRequest: func(ev cfemu.Event) {
			mu.Lock()
			events = append(events, fmt.Sprintf("%+v", ev))
			mu.Unlock()
		}},
		client: cloudflare.Options{Token: canary, Logger: logger, Retry: cloudflare.RetryPolicy{MaxAttempts: 20, BudgetCapacity: -1}},
	})
	ctx := context.Background()
	var outputs []string
	record := func(v ...any) {
		for _, x := range v {
			outputs = append(outputs, fmt.Sprintf("%v | %+v | %#v", x, x, x))
		}
	}
	kv := e.namespace(t, "CONFIG")
	for i := 0; i < 30; i++ {
		record(kv.Put(ctx, fmt.Sprintf("k%d", i), []byte("v"), kvstore.PutOptions{Metadata: []byte(`{"a":1}`), TTL: time.Hour}))
	}
	got, err := kv.Get(ctx, "k1")
	record(got, err)
	_, err = kv.Get(ctx, "missing")
	record(err)
	record(kv.Put(ctx, "k", []byte("v"), kvstore.PutOptions{TTL: time.Second}))
	page, err := kv.List(ctx, kvstore.ListOptions{Limit: 3})
	record(page, err)
	record(kv.BulkPut(ctx, bulkPairs(500), cloudflare.BulkOptions{BatchPairs: 100}))
	record(kv.DeleteMany(ctx, []string{"k1", "k2"}))
	st, err := e.client.VerifyToken(ctx)
	record(st, err)
	_, err = e.client.KV(strings.Repeat("e", 32)).Get(ctx, "k")
	record(err)
	_, err = e.client.ResolveNamespace(ctx, cloudflare.NamespaceRef{Title: "absent"})
	record(err)

	// A client with another token: the emulator refuses it; neither token shows.
	other, err := cloudflare.New(cloudflare.Options{BaseURL: e.srv.URL + "/client/v4", Token: "wrong-" + canary, AccountID: testAccount, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	_, err = other.VerifyToken(ctx)
	record(err)
	_, err = other.Namespaces(ctx)
	record(err)

	// The global rate limit, with a window longer than the client waits.
	limited := newEnv(t, envOptions{emu: cfemu.Options{Token: canary, RateLimit: 2, RateWindow: 5 * time.Minute, Logger: logger}, client: cloudflare.Options{Token: canary, Logger: logger}})
	for i := 0; i < 4; i++ {
		_, err := limited.client.Namespaces(ctx)
		record(err)
	}
	// A transport error.
	dead, _ := cloudflare.New(cloudflare.Options{BaseURL: "http://127.0.0.1:1/client/v4", Token: canary, AccountID: testAccount, Logger: logger, Retry: cloudflare.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond}})
	_, err = dead.Namespaces(ctx)
	record(err)
	creds := cloudflare.Credentials{Token: canary, AccountID: testAccount}
	record(creds, creds.Options())
	logger.Info("credentials", "creds", creds, "options", creds.Options())

	mu.Lock()
	defer mu.Unlock()
	all := append(append(outputs, events...), logs.String())
	for _, s := range all {
		if strings.Contains(s, canary) || strings.Contains(s, "CANARY") {
			t.Fatalf("the canary token leaked into:\n%s", s)
		}
	}
	if !strings.Contains(logs.String(), "retrying") || !strings.Contains(logs.String(), "cfemu") {
		t.Errorf("the run logged nothing to check; logs:\n%.500s", logs.String())
	}
	t.Logf("checked %d outputs, %d events and %d bytes of logs", len(outputs), len(events), len(logs.String()))
}
