package devrun_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/overrides"
)

// waitKeys waits (up to 10 s, polling the store: the Worker writes after it
// answers) for a key under prefix, and returns the keys there.
func waitKeys(t *testing.T, store *kvstore.Memory, prefix string, want bool) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := store.List(context.Background(), kvstore.ListOptions{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, k := range res.Keys {
			keys = append(keys, k.Name)
		}
		if len(keys) > 0 == want || time.Now().After(deadline) {
			return keys
		}
		time.Sleep(20 * time.Millisecond) // polling the Worker's background write; bounded by the deadline
	}
}

// TestWorker_MonitoringOn: with analytics, performance and error tracking
// on, answers carry Server-Timing, the isolate's counters and latency
// percentiles land in KV, and an unhandled error is recorded with its
// request id, version and route.
func TestWorker_MonitoringOn(t *testing.T) {
	store := kvstore.NewMemory(nil)
	srv, doc := startExample(t, store)
	m := overrides.New(overrides.Options{Store: store, Doc: doc, By: "telemetry-test"})
	if _, err := m.Set(context.Background(), "monitoring.errorTracking", true, overrides.SetOptions{}); err != nil {
		t.Fatal(err)
	}
	code, hdr, _ := do(t, "GET", srv.URL+"/api/flags/premium?user=bob", "", nil)
	if code != 200 || !strings.HasPrefix(hdr.Get("Server-Timing"), "total;dur=") {
		t.Fatalf("performance on: %d, Server-Timing %q", code, hdr.Get("Server-Timing"))
	}
	keys := waitKeys(t, store, "edgeconf/v1/telemetry/", true)
	if len(keys) != 1 {
		t.Fatalf("telemetry keys: %v", keys)
	}
	e, _ := store.Get(context.Background(), keys[0])
	var tel struct {
		Routes    map[string]int
		Flags     map[string]int
		LatencyMs struct{ Samples int }
	}
	if err := json.Unmarshal(e.Value, &tel); err != nil || tel.Routes["/api/flags/:name"] != 1 || tel.Flags["premium:off"]+tel.Flags["premium:on"] != 1 || tel.LatencyMs.Samples != 1 {
		t.Fatalf("telemetry: %s", e.Value)
	}
	code, _, body := do(t, "GET", srv.URL+"/api/flags/%E0%A4", "", nil)
	if code != 500 || !strings.Contains(body, "requestId") {
		t.Fatalf("an unhandled error: %d %s", code, body)
	}
	errs := waitKeys(t, store, "edgeconf/v1/errors/", true)
	if len(errs) != 1 {
		t.Fatalf("error keys: %v", errs)
	}
	e, _ = store.Get(context.Background(), errs[0])
	var rec struct{ RequestID, Version, Route, Message, Stack string }
	if err := json.Unmarshal(e.Value, &rec); err != nil || !strings.Contains(body, rec.RequestID) || rec.Route != "/api/flags/:name" || rec.Message == "" || rec.Version == "" {
		t.Fatalf("error record: %s (answer %s)", e.Value, body)
	}
	if e.Expiration.IsZero() {
		t.Error("an error record has no TTL")
	}
}

// TestWorker_MonitoringOff: with the switches off nothing is recorded.
func TestWorker_MonitoringOff(t *testing.T) {
	store := kvstore.NewMemory(nil)
	srv, doc := startExample(t, store)
	m := overrides.New(overrides.Options{Store: store, Doc: doc, By: "telemetry-test"})
	for _, p := range []string{"monitoring.analytics", "monitoring.performance", "monitoring.errorTracking"} {
		if _, err := m.Set(context.Background(), p, false, overrides.SetOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	code, hdr, _ := do(t, "GET", srv.URL+"/api/flags/premium?user=bob", "", nil)
	if code != 200 || hdr.Get("Server-Timing") != "" {
		t.Fatalf("performance off: %d, Server-Timing %q", code, hdr.Get("Server-Timing"))
	}
	if code, _, _ := do(t, "GET", srv.URL+"/api/flags/%E0%A4", "", nil); code != 500 {
		t.Fatalf("the error request: %d", code)
	}
	// A marker written after the Worker's requests: once it is readable
	// the Worker's background writes, had there been any, are too.
	if code, _, _ := do(t, "GET", srv.URL+"/healthz", "", nil); code != 200 {
		t.Fatal("healthz")
	}
	for _, prefix := range []string{"edgeconf/v1/telemetry/", "edgeconf/v1/errors/"} {
		res, err := store.List(context.Background(), kvstore.ListOptions{Prefix: prefix})
		if err != nil || len(res.Keys) != 0 {
			t.Errorf("%s has %d keys with the switches off", prefix, len(res.Keys))
		}
	}
}
