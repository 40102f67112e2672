package devrun_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/overrides"
)

// TestHealthz_KVFails: when the KV service answers errors, /healthz says
// "degraded" with checks.kv "error", /api/config keeps serving the last good
// snapshot marked stale, and both recover when KV does.
func TestHealthz_KVFails(t *testing.T) {
	store := kvstore.NewMemory(nil)
	var failing atomic.Bool
	open := func(write bool) (kvstore.Store, func() error, error) {
		if failing.Load() {
			return nil, nil, errors.New("state folder locked by another process")
		}
		return store, func() error { return nil }, nil
	}
	srv, doc := startExampleOpen(t, open, nil)
	m := overrides.New(overrides.Options{Store: store, Doc: doc, By: "kv-fail-test"})
	if _, err := m.Set(context.Background(), "features.premium.rolloutPercentage", 60, overrides.SetOptions{}); err != nil {
		t.Fatal(err)
	}
	type health struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	type cfg struct {
		Stale bool    `json:"stale"`
		Value float64 `json:"value"`
	}
	get := func(path string, v any) int {
		t.Helper()
		code, _, body := do(t, "GET", srv.URL+path, "", nil)
		if err := json.Unmarshal([]byte(body), v); err != nil {
			t.Fatalf("%s: %v: %s", path, err, body)
		}
		return code
	}
	const cfgPath = "/api/config?path=features.premium.rolloutPercentage"
	var h health
	var c cfg
	if code := get("/healthz", &h); code != 200 || h.Status != "ok" || h.Checks["kv"] != "ok" {
		t.Fatalf("healthy: %d %+v", code, h)
	}
	if get(cfgPath, &c); c.Value != 60 || c.Stale {
		t.Fatalf("config before the failure: %+v", c)
	}

	failing.Store(true)
	if code := get("/healthz", &h); code != 200 || h.Status != "degraded" || h.Checks["kv"] != "error" {
		t.Errorf("KV failing: %d %+v, want degraded with checks.kv error", code, h)
	}
	if get(cfgPath, &c); c.Value != 60 || !c.Stale {
		t.Errorf("KV failing: /api/config %+v, want the last good value 60 marked stale", c)
	}

	failing.Store(false)
	if get("/healthz", &h); h.Status != "ok" || h.Checks["kv"] != "ok" {
		t.Errorf("KV back: %+v", h)
	}
}
