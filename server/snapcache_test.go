package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/overrides"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// callAPI sends one request to s with the admin token and returns the body
// of a 200, else an error naming the status.
func callAPI(s *Server, method, path, body string) (string, error) {
	req := httptest.NewRequest(method, "http://example.test"+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer admin-token-0123456789")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		return "", fmt.Errorf("%s %s: %d %s", method, path, w.Code, w.Body)
	}
	return w.Body.String(), nil
}

// portsMain reads ports.main from GET /api/v1/config.
func portsMain(s *Server) (string, error) {
	body, err := callAPI(s, "GET", "/api/v1/config", "")
	if err != nil {
		return "", err
	}
	const key = `"path":"ports.main","value":`
	i := strings.Index(body, key)
	if i < 0 {
		return "", fmt.Errorf("no ports.main in %s", body)
	}
	rest := body[i+len(key):]
	return rest[:strings.IndexAny(rest, ",}")], nil
}

// TestSnapshotCache: reads share one resolved configuration instead of
// opening the store each time; a change through the server is seen by the
// next read; a change behind its back (the CLI) at the latest after one
// poll interval; an override that expires is gone from the moment it
// expires; the last-known-good copy is used as soon as KV is critical.
func TestSnapshotCache(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)}
	doc, err := config.Parse(strings.NewReader("owner: team\ndomain: example.com\nports: { main: 8091, compliance: 3001, dashboard: 3000 }\n"), config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	store := kvstore.NewMemory(clk.Now)
	mgr := func(st kvstore.Store) *overrides.Manager {
		return overrides.New(overrides.Options{Store: st, Doc: doc, Now: clk.Now, By: "cli"})
	}
	var opens atomic.Int64
	s, err := New(Options{
		Open: func(context.Context, bool, string) (*Session, error) {
			opens.Add(1)
			return &Session{Manager: mgr(store), Target: "memory", Close: func() error { return nil }}, nil
		},
		AdminToken: "admin-token-0123456789", Hosts: []string{"example.test"}, Poll: 5 * time.Minute, Now: clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, path, body string) string {
		t.Helper()
		out, err := callAPI(s, method, path, body)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	main := func() string {
		t.Helper()
		v, err := portsMain(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	if v := main(); v != "8091" {
		t.Fatalf("ports.main = %s", v)
	}
	for range 5 {
		main()
		do("GET", "/api/v1/flags", "")
		do("GET", "/api/v1/report", "")
	}
	if n := opens.Load(); n != 1 {
		t.Errorf("16 reads opened the store %d times, want 1", n)
	}

	// A change through the server: the next read sees it.
	do("PUT", "/api/v1/overrides/ports.main", `{"value": 9001}`)
	if v := main(); v != "9001" {
		t.Errorf("after a PUT through the server, ports.main = %s", v)
	}

	// A change behind the server's back: seen after one poll interval at
	// the latest (Run's check of the store drops it sooner).
	if _, err := mgr(store).Set(context.Background(), "ports.main", 9002, overrides.SetOptions{}); err != nil {
		t.Fatal(err)
	}
	if v := main(); v != "9001" {
		t.Fatalf("the cache did not hold within the poll interval: %s", v)
	}
	clk.Advance(5 * time.Minute)
	if v := main(); v != "9002" {
		t.Errorf("after one poll interval, ports.main = %s, want 9002", v)
	}
	s.broadcast("overrides") // what Run does when the store changes
	if _, err := mgr(store).Set(context.Background(), "ports.main", 9003, overrides.SetOptions{}); err != nil {
		t.Fatal(err)
	}
	s.broadcast("overrides")
	if v := main(); v != "9003" {
		t.Errorf("after Run saw a change, ports.main = %s, want 9003", v)
	}

	// An override that expires before the poll interval ends.
	if _, err := mgr(store).Set(context.Background(), "ports.main", 9004, overrides.SetOptions{TTL: 2 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	s.broadcast("overrides")
	if v := main(); v != "9004" {
		t.Fatalf("ports.main = %s, want 9004", v)
	}
	clk.Advance(2*time.Minute + time.Second)
	if v := main(); v != "8091" {
		t.Errorf("after the override expired, ports.main = %s, want the file's 8091", v)
	}
}

// TestSnapshotCache_StaleWhileRevalidate: when only the poll interval has
// passed, one reader resolves afresh while the others are answered at once
// from the entry they had; a change made while that resolve runs is not
// overwritten by its older result.
func TestSnapshotCache_StaleWhileRevalidate(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)}
	doc, err := config.Parse(strings.NewReader("owner: team\ndomain: example.com\nports: { main: 8091, compliance: 3001, dashboard: 3000 }\n"), config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	store := kvstore.NewMemory(clk.Now)
	mgr := func() *overrides.Manager {
		return overrides.New(overrides.Options{Store: store, Doc: doc, Now: clk.Now, By: "cli"})
	}
	// gate, when set, holds the next session's Close (after its resolve)
	// until it is closed; entered says the session got there.
	var gate atomic.Pointer[chan struct{}]
	entered := make(chan struct{}, 1)
	s, err := New(Options{
		Open: func(context.Context, bool, string) (*Session, error) {
			return &Session{Manager: mgr(), Target: "memory", Close: func() error {
				if ch := gate.Swap(nil); ch != nil {
					entered <- struct{}{}
					<-*ch
				}
				return nil
			}}, nil
		},
		AdminToken: "admin-token-0123456789", Hosts: []string{"example.test"}, Poll: time.Minute, Now: clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, path, body string) (string, error) { return callAPI(s, method, path, body) }
	main := func() (string, error) { return portsMain(s) }
	type result struct {
		v   string
		err error
	}
	background := func() chan result {
		out := make(chan result, 1)
		go func() { v, err := main(); out <- result{v, err} }()
		return out
	}
	want := func(what string, got result, v string) {
		t.Helper()
		if got.err != nil || got.v != v {
			t.Errorf("%s: ports.main = %q (%v), want %s", what, got.v, got.err, v)
		}
	}
	first, err := main()
	want("first read", result{first, err}, "8091")

	// A change behind the server's back, then the poll interval passes.
	if _, err := mgr().Set(context.Background(), "ports.main", 9002, overrides.SetOptions{}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	release := make(chan struct{})
	gate.Store(&release)
	refresher := background()
	<-entered // the refresher has resolved and holds its session
	v, err := main()
	want("a read while another refreshes (answered from the entry it had)", result{v, err}, "8091")
	close(release)
	want("the refreshing read", <-refresher, "9002")
	v, err = main()
	want("the read after the refresh", result{v, err}, "9002")

	// A change through the server while a refresh is under way: the
	// refresh's older result must not replace what the change dropped.
	clk.Advance(time.Minute)
	release = make(chan struct{})
	gate.Store(&release)
	refresher = background()
	<-entered
	if _, err := do("PUT", "/api/v1/overrides/ports.main", `{"value": 9005}`); err != nil {
		t.Fatal(err)
	}
	close(release)
	want("the refreshing read that a change overtook", <-refresher, "9005")
	v, err = main()
	want("the read after the change", result{v, err}, "9005")
}

// TestEvents_HelloWaitsForRun: the hello of an event stream promises every
// later change, so it is not sent before Run has taken its first look at
// the store (a change made in between would be taken for the starting
// state and never announced).
func TestEvents_HelloWaitsForRun(t *testing.T) {
	doc, err := config.Parse(strings.NewReader("owner: team\ndomain: example.com\n"), config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	store := kvstore.NewMemory(time.Now)
	s, err := New(Options{
		Open: func(context.Context, bool, string) (*Session, error) {
			return &Session{Manager: overrides.New(overrides.Options{Store: store, Doc: doc}), Target: "memory", Close: func() error { return nil }}, nil
		},
		AdminToken: "admin-token-0123456789", Hosts: []string{"example.test"},
	})
	if err != nil {
		t.Fatal(err)
	}
	open := func(ctx context.Context) string {
		req := httptest.NewRequest("GET", "http://example.test/api/v1/events", nil).WithContext(ctx)
		req.Header.Set("Authorization", "Bearer admin-token-0123456789")
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, req)
		return w.Body.String()
	}
	gone, cancel := context.WithCancel(context.Background())
	cancel() // the client leaves: the handler returns instead of waiting
	if body := open(gone); strings.Contains(body, "hello") {
		t.Fatalf("hello sent before Run looked at the store: %q", body)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { stop(); <-done }()
	<-s.ready // Run's first look
	if body := open(gone); !strings.Contains(body, "event: hello") {
		t.Errorf("after Run's first look, no hello: %q", body)
	}
}
