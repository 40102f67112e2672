package monitor

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/d1/sqlite"
	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/objstore/localfs"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// switchable is a probe whose outcome and latency the test sets.
type switchable struct {
	name    string
	clk     *clock
	mu      sync.Mutex
	err     error
	latency time.Duration
}

func (s *switchable) set(err error, latency time.Duration) {
	s.mu.Lock()
	s.err, s.latency = err, latency
	s.mu.Unlock()
}
func (s *switchable) Name() string   { return s.name }
func (s *switchable) Metric() string { return s.name + ".latency_ms" }
func (s *switchable) Check(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clk.Advance(s.latency)
	return s.err
}

func memKV(clk *clock) OpenKV {
	m := kvstore.NewMemory(clk.Now)
	return func(context.Context) (kvstore.Store, func() error, error) { return m, func() error { return nil }, nil }
}

var thresholds = config.DependencyThresholds{Refresh: 60, Warning: 300, Critical: 900}

// TestStateMachine: ok → warning after 300 s without a good probe →
// critical after 900 s → recovered on the next good probe; one alert per
// change, stored; a probe over its latency threshold is not good.
func TestStateMachine(t *testing.T) {
	clk := &clock{t: time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)}
	kv := &switchable{name: "kv", clk: clk}
	r2 := &switchable{name: "r2", clk: clk}
	alerts := KVAlerts{Open: memKV(clk)}
	var changes [][]Alert
	m, err := New(Options{Probes: []Probe{kv, r2}, Thresholds: thresholds, Now: clk.Now,
		Alerts: []config.AlertConfig{{Metric: "kv.latency_ms", Threshold: 100, Storage: "KV"}},
		Stores: map[string]AlertStore{"KV": alerts}, OnChange: func(a []Alert) { changes = append(changes, a) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	state := func() string {
		var parts []string
		for _, s := range m.Statuses() {
			parts = append(parts, s.Name+"="+string(s.State))
		}
		return strings.Join(parts, " ")
	}
	if got := state(); got != "kv=unknown r2=unknown" {
		t.Fatalf("before the first round: %s", got)
	}
	if a := m.Round(ctx); len(a) != 0 || state() != "kv=ok r2=ok" {
		t.Fatalf("first round: %v, %s", a, state())
	}
	kv.set(errors.New("connection refused"), 0)
	steps := []struct {
		advance time.Duration
		want    string
		alerts  int
	}{
		{60 * time.Second, "kv=ok r2=ok", 0},
		{200 * time.Second, "kv=ok r2=ok", 0},
		{60 * time.Second, "kv=warning r2=ok", 1}, // 320 s without a good probe
		{60 * time.Second, "kv=warning r2=ok", 0}, // once per change
		{600 * time.Second, "kv=critical r2=ok", 1},
	}
	for i, st := range steps {
		clk.Advance(st.advance)
		a := m.Round(ctx)
		if got := state(); got != st.want || len(a) != st.alerts {
			t.Fatalf("step %d: %s with %d alerts, want %s with %d", i, got, len(a), st.want, st.alerts)
		}
	}
	if c := m.Critical(); len(c) != 1 || c[0] != "kv" {
		t.Errorf("critical = %v", c)
	}
	kv.set(nil, 150*time.Millisecond) // answers, but slower than the 100 ms alert
	clk.Advance(60 * time.Second)
	if a := m.Round(ctx); len(a) != 0 || state() != "kv=critical r2=ok" {
		t.Fatalf("a slow probe is not good: %v %s", a, state())
	}
	st := m.Statuses()[0]
	if !strings.Contains(st.LastError, "above the alert threshold of 100 ms") || st.LatencyMs != 150 || st.Threshold != 100 {
		t.Errorf("slow probe status %+v", st)
	}
	kv.set(nil, 10*time.Millisecond)
	clk.Advance(60 * time.Second)
	a := m.Round(ctx)
	if len(a) != 1 || !a[0].Recovered() || state() != "kv=ok r2=ok" {
		t.Fatalf("recovery: %+v %s", a, state())
	}
	stored, err := m.Alerts(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range stored {
		got = append(got, string(x.From)+">"+string(x.To))
	}
	if strings.Join(got, " ") != "critical>ok warning>critical ok>warning" || len(changes) != 3 {
		t.Errorf("stored alerts (newest first) = %v, OnChange calls %d", got, len(changes))
	}
	if !strings.Contains(stored[2].Message, "connection refused") {
		t.Errorf("the warning does not say why: %q", stored[2].Message)
	}
	if n := len(m.Statuses()[0].Samples); n != 8 {
		t.Errorf("%d samples kept, want one per round (8)", n)
	}
}

// TestStrict: with Strict (monitor --once) a first failure is critical.
func TestStrict(t *testing.T) {
	clk := &clock{t: time.Unix(0, 0)}
	p := &switchable{name: "d1", clk: clk, err: errors.New("no such database")}
	m, err := New(Options{Probes: []Probe{p}, Thresholds: thresholds, Now: clk.Now, Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	a := m.Round(context.Background())
	if len(a) != 1 || a[0].To != Critical || len(m.Critical()) != 1 {
		t.Fatalf("strict first failure: %+v", a)
	}
	if _, err := New(Options{Thresholds: config.DependencyThresholds{}}); err == nil {
		t.Error("zero thresholds were accepted")
	}
}

// TestRunStopsWithContext: Run probes every refresh until its context ends.
func TestRunStopsWithContext(t *testing.T) {
	clk := &clock{t: time.Unix(0, 0)}
	p := &switchable{name: "kv", clk: clk}
	ctx, cancel := context.WithCancel(context.Background())
	rounds := 0
	m, _ := New(Options{Probes: []Probe{p}, Thresholds: thresholds, Now: clk.Now, Sleep: func(ctx context.Context, d time.Duration) error {
		rounds++
		if d != 60*time.Second {
			t.Errorf("slept %s, want the refresh of 60s", d)
		}
		if rounds == 3 {
			cancel()
		}
		return ctx.Err()
	}})
	if err := m.Run(ctx); !errors.Is(err, context.Canceled) || rounds != 3 {
		t.Fatalf("Run = %v after %d rounds", err, rounds)
	}
}

// TestRunThen_AfterFirstRound: afterFirst runs once, after the first
// round has set the states and before the first sleep.
func TestRunThen_AfterFirstRound(t *testing.T) {
	clk := &clock{t: time.Unix(0, 0)}
	p := &switchable{name: "kv", clk: clk}
	ctx, cancel := context.WithCancel(context.Background())
	var events []string
	m, _ := New(Options{Probes: []Probe{p}, Thresholds: thresholds, Now: clk.Now, Sleep: func(ctx context.Context, d time.Duration) error {
		events = append(events, "sleep")
		if len(events) == 4 {
			cancel()
		}
		return ctx.Err()
	}})
	_ = m.RunThen(ctx, func() {
		sts := m.Statuses()
		events = append(events, "first:"+string(sts[0].State))
	})
	if want := []string{"first:" + string(m.Statuses()[0].State), "sleep", "sleep", "sleep"}; !reflect.DeepEqual(events, want) || m.Statuses()[0].State == "" {
		t.Errorf("events = %v, want %v", events, want)
	}
}

// TestAlertStores: the conformance of the KV and R2 alert stores.
func TestAlertStores(t *testing.T) {
	clk := &clock{t: time.Date(2026, 12, 5, 23, 59, 0, 0, time.UTC)}
	fs, err := localfs.Open(localfs.Options{Dir: filepath.Join(t.TempDir(), "bucket"), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]AlertStore{"KV": KVAlerts{Open: memKV(clk)}, "R2": R2Alerts{Store: fs}} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			if got, err := s.List(ctx, 10); err != nil || len(got) != 0 {
				t.Fatalf("empty store: %v, %v", got, err)
			}
			base := clk.Now()
			for i := 0; i < 5; i++ { // across midnight for the R2 day objects
				if err := s.Put(ctx, Alert{Dependency: "kv", From: OK, To: Warning, At: base.Add(time.Duration(i) * 30 * time.Second), Message: "m"}); err != nil {
					t.Fatal(err)
				}
			}
			got, err := s.List(ctx, 3)
			if err != nil || len(got) != 3 || !got[0].At.Equal(base.Add(120*time.Second)) || !got[2].At.Equal(base.Add(60*time.Second)) {
				t.Fatalf("newest three: %+v, %v", got, err)
			}
			if all, _ := s.List(ctx, 0); len(all) != 5 {
				t.Errorf("all: %d", len(all))
			}
		})
	}
}

// TestProbes: the KV, R2, D1 and Worker probes against real local backends.
func TestProbes(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	if err := KVProbe(memKV(clk), clk.Now).Check(ctx); err != nil {
		t.Errorf("kv: %v", err)
	}
	broken := func(context.Context) (kvstore.Store, func() error, error) { return nil, nil, errors.New("locked") }
	if err := KVProbe(broken, clk.Now).Check(ctx); err == nil {
		t.Error("kv probe of a store that cannot open passed")
	}
	fs, _ := localfs.Open(localfs.Options{Dir: filepath.Join(t.TempDir(), "b"), Now: clk.Now})
	if err := R2Probe(fs).Check(ctx); err != nil {
		t.Errorf("r2 (a missing sentinel is fine): %v", err)
	}
	db, err := sqlite.Open(ctx, sqlite.Options{Dir: t.TempDir(), Name: "probe"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := D1Probe(db, nil).Check(ctx); err != nil {
		t.Errorf("d1: %v", err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"status":"ok"}`))
	}))
	defer srv.Close()
	if err := WorkerProbe(srv.URL, nil).Check(ctx); err != nil {
		t.Errorf("worker: %v", err)
	}
	for name, h := range map[string]http.HandlerFunc{
		"500":      func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) },
		"degraded": func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(`{"status":"degraded"}`)) },
		"not json": func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(`<html>`)) },
	} {
		s := httptest.NewServer(h)
		if err := WorkerProbe(s.URL, nil).Check(ctx); err == nil {
			t.Errorf("worker %s passed", name)
		}
		s.Close()
	}
	if err := WorkerProbe("http://127.0.0.1:1", nil).Check(ctx); err == nil {
		t.Error("an unreachable worker passed")
	}
}

// TestProbesFor: the configuration's integrations choose the probes.
func TestProbesFor(t *testing.T) {
	clk := &clock{t: time.Unix(0, 0)}
	cfg := &config.Config{}
	cfg.Dependencies.Integrations = config.Integrations{KV: true, R2: false}
	cfg.Cloudflare.D1Databases = []config.D1Database{{Binding: "DB", Name: "db"}}
	b := Backends{KV: memKV(clk), R2: R2Probe(nil), D1: Func{N: "d1", M: "d1.latency_ms", F: func(context.Context) error { return nil }},
		WorkerURL: "http://127.0.0.1:1", Token: func(context.Context) error { return nil }, Now: clk.Now}
	var names []string
	for _, p := range ProbesFor(cfg, b) {
		names = append(names, p.Name()+":"+p.Metric())
	}
	if got := strings.Join(names, " "); got != "kv:kv.latency_ms d1:d1.latency_ms worker:worker.latency_ms token:token.latency_ms" {
		t.Errorf("probes = %s", got)
	}
	m, err := New(Options{Probes: ProbesFor(cfg, Backends{KV: memKV(clk), Now: clk.Now}), Thresholds: thresholds, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if m.Interval() != time.Minute {
		t.Errorf("interval %s", m.Interval())
	}
	// An alert with no store is logged, not lost silently: the round
	// still reports it.
	bad := &switchable{name: "kv", clk: clk, err: errors.New("down")}
	m2, _ := New(Options{Probes: []Probe{bad}, Thresholds: thresholds, Now: clk.Now, Strict: true})
	if a := m2.Round(context.Background()); len(a) != 1 {
		t.Errorf("alerts without a store: %v", a)
	}
	if as, err := m2.Alerts(context.Background(), 5); err != nil || len(as) != 0 {
		t.Errorf("alerts of a monitor without stores: %v %v", as, err)
	}
}
