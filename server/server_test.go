package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/d1"
	"github.com/factory-wager/edgeconf/d1/migrate"
	"github.com/factory-wager/edgeconf/d1/sqlite"
	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/monitor"
	"github.com/factory-wager/edgeconf/overrides"
	"github.com/factory-wager/edgeconf/server"
)

const (
	adminToken = "admin-secret-0123456789"
	readToken  = "read-secret-0123456789"
)

const configYAML = `owner: team
domain: example.com
ports: { main: 8091, compliance: 3001, dashboard: 3000 }
features:
  premium: { enabled: true, rolloutPercentage: 25, allowedUsers: [alice@example.com] }
proxy: { url: "http://user:proxy-pass-123@proxy.example.com:3128" }
cloudflare:
  worker: { name: app, main: index.js }
  kvNamespaces: [ { binding: CONFIG, title: app-config } ]
`

// rig is a server on an in-memory store, behind an httptest server.
type rig struct {
	srv     *httptest.Server
	s       *server.Server
	store   *kvstore.Memory
	doc     *config.Document
	mu      sync.Mutex
	failKV  bool
	lkgPath string
}

type failing struct{ err error }

func (f failing) Get(context.Context, string) (kvstore.Entry, error) { return kvstore.Entry{}, f.err }
func (f failing) Put(context.Context, string, []byte, kvstore.PutOptions) error {
	return f.err
}
func (f failing) Delete(context.Context, string) error { return f.err }
func (f failing) List(context.Context, kvstore.ListOptions) (kvstore.ListResult, error) {
	return kvstore.ListResult{}, f.err
}

func newRig(t *testing.T, admin, read string, mon *monitor.Monitor) *rig {
	t.Helper()
	doc, err := config.Parse(strings.NewReader(configYAML), config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{store: kvstore.NewMemory(time.Now), doc: doc, lkgPath: t.TempDir() + "/lkg.json"}
	open := func(ctx context.Context, write bool, by string) (*server.Session, error) {
		var st kvstore.Store = r.store
		r.mu.Lock()
		if r.failKV {
			st = failing{errors.New("store down")}
		}
		r.mu.Unlock()
		return &server.Session{Manager: overrides.New(overrides.Options{Store: st, Doc: doc, By: by, LKGPath: r.lkgPath}), Target: "memory", Close: func() error { return nil }}, nil
	}
	srvURL := make(chan string, 1)
	r.srv = httptest.NewUnstartedServer(nil)
	r.srv.Start()
	host := strings.TrimPrefix(r.srv.URL, "http://")
	srvURL <- host
	s, err := server.New(server.Options{Open: open, AdminToken: admin, ReadToken: read, Hosts: []string{host}, Monitor: mon, Poll: 20 * time.Millisecond,
		OpenLKG: func(ctx context.Context) (*server.Session, error) {
			return &server.Session{Manager: overrides.New(overrides.Options{Store: failing{errors.New("kv critical")}, Doc: doc, LKGPath: r.lkgPath}), Target: "lkg", Close: func() error { return nil }}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	r.s = s
	r.srv.Config.Handler = s.Handler()
	ctx, cancel := context.WithCancel(context.Background())
	go s.Run(ctx)
	t.Cleanup(func() { cancel(); r.srv.Close() })
	return r
}

func (r *rig) do(t *testing.T, method, path, token, body string, headers ...string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, r.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "Host" {
			req.Host = headers[i+1]
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestAuthMatrix: every route with no token, the read token and the admin
// token: reads need a token, changes need the admin token, and a mutating
// route never answers 2xx without it.
func TestAuthMatrix(t *testing.T) {
	r := newRig(t, adminToken, readToken, nil)
	routes := []struct {
		method, path, body string
		mutates            bool
	}{
		{"GET", "/api/v1/session", "", false},
		{"GET", "/api/v1/config", "", false},
		{"GET", "/api/v1/report", "", false},
		{"GET", "/api/v1/flags", "", false},
		{"GET", "/api/v1/flags/premium/eval?user=bob", "", false},
		{"GET", "/api/v1/flags/premium/simulate?users=100", "", false},
		{"GET", "/api/v1/overrides", "", false},
		{"GET", "/api/v1/history/features.premium.rolloutPercentage", "", false},
		{"GET", "/api/v1/audit", "", false},
		{"GET", "/api/v1/monitor", "", false},
		{"GET", "/api/v1/alerts", "", false},
		{"GET", "/api/v1/deployments", "", false},
		{"GET", "/metrics", "", false},
		{"PUT", "/api/v1/overrides/features.premium.rolloutPercentage", `{"value":30}`, true},
		{"DELETE", "/api/v1/overrides/features.premium.rolloutPercentage", "", true},
	}
	for _, rt := range routes {
		for _, who := range []struct{ name, token string }{{"none", ""}, {"wrong", "nope"}, {"read", readToken}, {"admin", adminToken}} {
			code, body := r.do(t, rt.method, rt.path, who.token, rt.body)
			var want int
			switch {
			case who.name == "none" || who.name == "wrong":
				want = http.StatusUnauthorized
			case rt.mutates && who.name == "read":
				want = http.StatusForbidden
			default:
				want = http.StatusOK
			}
			if code != want {
				t.Errorf("%s %s as %s: %d, want %d: %s", rt.method, rt.path, who.name, code, want, body)
			}
			if rt.mutates && who.name != "admin" && code < 300 {
				t.Errorf("%s %s succeeded without the admin token", rt.method, rt.path)
			}
		}
	}
	if code, _ := r.do(t, "GET", "/healthz", "", ""); code != 200 {
		t.Errorf("/healthz needs no token: %d", code)
	}
	if code, body := r.do(t, "GET", "/", "", ""); code != 200 || !strings.Contains(body, "QUANTUM TERMINAL") {
		t.Errorf("the dashboard: %d", code)
	}
}

// TestMutationsOffWithoutToken: with no token configured, reads are open
// (the command binds loopback only) and changes are refused.
func TestMutationsOffWithoutToken(t *testing.T) {
	r := newRig(t, "", "", nil)
	if code, body := r.do(t, "GET", "/api/v1/session", "", ""); code != 200 || !strings.Contains(body, `"mutations":false`) {
		t.Fatalf("session: %d %s", code, body)
	}
	if code, body := r.do(t, "PUT", "/api/v1/overrides/features.premium.rolloutPercentage", "", `{"value":30}`); code != 403 || !strings.Contains(body, "DASHBOARD_TOKEN") {
		t.Fatalf("a change without tokens: %d %s", code, body)
	}
}

// TestRefusals: a foreign Host, a cross-origin mutation, a foreign Origin
// on the event stream, an oversized body, a GET on a mutating route.
func TestRefusals(t *testing.T) {
	r := newRig(t, adminToken, "", nil)
	if code, _ := r.do(t, "GET", "/api/v1/config", adminToken, "", "Host", "evil.example.com"); code != http.StatusMisdirectedRequest {
		t.Errorf("a foreign Host: %d", code)
	}
	if code, _ := r.do(t, "PUT", "/api/v1/overrides/features.premium.rolloutPercentage", adminToken, `{"value":30}`, "Sec-Fetch-Site", "cross-site"); code != http.StatusForbidden {
		t.Errorf("a cross-site mutation: %d", code)
	}
	if code, _ := r.do(t, "PUT", "/api/v1/overrides/features.premium.rolloutPercentage", adminToken, `{"value":30}`, "Origin", "http://evil.example.com"); code != http.StatusForbidden {
		t.Errorf("a mutation from another origin: %d", code)
	}
	if code, _ := r.do(t, "GET", "/api/v1/events", adminToken, "", "Origin", "http://evil.example.com"); code != http.StatusForbidden {
		t.Errorf("the event stream from another origin: %d", code)
	}
	big := `{"value":"` + strings.Repeat("x", server.DefaultMaxBody) + `"}`
	if code, _ := r.do(t, "PUT", "/api/v1/overrides/owner", adminToken, big); code != http.StatusRequestEntityTooLarge {
		t.Errorf("an oversized body: %d", code)
	}
	if code, _ := r.do(t, "POST", "/api/v1/overrides/owner", adminToken, `{"value":"x"}`); code == 200 {
		t.Error("POST on an override changed something")
	}
	if code, _ := r.do(t, "GET", "/api/v1/nothing", adminToken, ""); code != 404 {
		t.Errorf("an unknown API route: %d", code)
	}
	if code, _ := r.do(t, "POST", "/index.html", adminToken, "x"); code != 405 {
		t.Errorf("POST to the UI: %d", code)
	}
	if code, body := r.do(t, "GET", "/api/v1/flags/nope/eval?user=a", adminToken, ""); code != 404 || !strings.Contains(body, "nope") {
		t.Errorf("an unknown flag: %d %s", code, body)
	}
	if code, _ := r.do(t, "GET", "/api/v1/flags/premium/eval", adminToken, ""); code != 400 {
		t.Errorf("eval without a user: %d", code)
	}
	if code, _ := r.do(t, "GET", "/api/v1/flags/premium/simulate?users=0", adminToken, ""); code != 400 {
		t.Errorf("simulate 0 users: %d", code)
	}
}

// TestOverridesThroughTheAPI: set (with a TTL), a refused value with its
// problems, history and audit with the token's name, delete; a proxy
// password never shows.
func TestOverridesThroughTheAPI(t *testing.T) {
	r := newRig(t, adminToken, readToken, nil)
	for _, path := range []string{"/api/v1/overrides", "/api/v1/audit"} {
		if code, body := r.do(t, "GET", path, readToken, ""); code != 200 || strings.TrimSpace(body) != "[]" {
			t.Errorf("%s on an empty store: %d %q, want []", path, code, body)
		}
	}
	code, body := r.do(t, "PUT", "/api/v1/overrides/features.premium.rolloutPercentage", adminToken, `{"value":40,"ttl":"2h"}`)
	var rec struct {
		Rev       int
		ExpiresIn int `json:"expiresInSeconds"`
	}
	json.Unmarshal([]byte(body), &rec)
	if code != 200 || rec.Rev != 1 || rec.ExpiresIn < 7100 || rec.ExpiresIn > 7200 {
		t.Fatalf("set: %d %s", code, body)
	}
	code, body = r.do(t, "PUT", "/api/v1/overrides/features.premium.rolloutPercentage", adminToken, `{"value":400}`)
	if code != 422 || !strings.Contains(body, `"problems"`) {
		t.Fatalf("an invalid value: %d %s", code, body)
	}
	for _, bad := range []string{`{"value":null}`, `{"nope":1}`, `{"value":1,"ttl":"soon"}`, `not json`} {
		if code, body := r.do(t, "PUT", "/api/v1/overrides/owner", adminToken, bad); code != 400 {
			t.Errorf("body %s: %d %s", bad, code, body)
		}
	}
	_, body = r.do(t, "GET", "/api/v1/flags/premium/eval?user=bob", readToken, "")
	if !strings.Contains(body, `"rolloutPercentage":40`) {
		t.Errorf("eval does not see the override: %s", body)
	}
	_, body = r.do(t, "GET", "/api/v1/config", readToken, "")
	if strings.Contains(body, "proxy-pass-123") || !strings.Contains(body, "proxy.example.com") {
		t.Errorf("the proxy password shows in the configuration: %s", body)
	}
	_, body = r.do(t, "GET", "/api/v1/audit", readToken, "")
	if !strings.Contains(body, `"who":"dashboard-admin"`) {
		t.Errorf("the audit log does not name the token: %s", body)
	}
	_, body = r.do(t, "GET", "/api/v1/history/features.premium.rolloutPercentage", readToken, "")
	if !strings.Contains(body, `"action":"set"`) {
		t.Errorf("history: %s", body)
	}
	if code, _ := r.do(t, "DELETE", "/api/v1/overrides/features.premium.rolloutPercentage", adminToken, ""); code != 200 {
		t.Fatalf("delete: %d", code)
	}
	if code, _ := r.do(t, "DELETE", "/api/v1/overrides/features.premium.rolloutPercentage", adminToken, ""); code != 404 {
		t.Errorf("delete again: %d", code)
	}
	_, body = r.do(t, "GET", "/metrics", readToken, "")
	if !strings.Contains(body, `edgeconf_http_requests_total{route="PUT /api/v1/overrides/{path}",code="422"} 1`) {
		t.Errorf("metrics:\n%s", body)
	}
}

// TestLiveUpdates: a change made outside the server (straight in the
// store, as the CLI does) reaches an open event stream.
func TestLiveUpdates(t *testing.T) {
	r := newRig(t, adminToken, "", nil)
	req, _ := http.NewRequest("GET", r.srv.URL+"/api/v1/events?access_token="+adminToken, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitFor := func(want string) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("the stream ended before %q", want)
				}
				if strings.Contains(l, want) {
					return
				}
			case <-timeout:
				t.Fatalf("no %q on the stream within 10 s", want)
			}
		}
	}
	waitFor("event: hello")
	// Written as another process would: straight into the store.
	mgr := overrides.New(overrides.Options{Store: r.store, Doc: r.doc, By: "cli-user"})
	if _, err := mgr.Set(context.Background(), "features.premium.rolloutPercentage", 55, overrides.SetOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(`"kind":"overrides"`)
}

// TestLastKnownGood: while the monitor says KV is critical, reads come from
// the last-known-good copy, and the configuration says so.
func TestLastKnownGood(t *testing.T) {
	clk := time.Now
	var down sync.Mutex
	failing := true
	bad := monitor.Func{N: "kv", M: "kv.latency_ms", F: func(context.Context) error {
		down.Lock()
		defer down.Unlock()
		if failing {
			return errors.New("kv down")
		}
		return nil
	}}
	mon, err := monitor.New(monitor.Options{Probes: []monitor.Probe{bad}, Thresholds: config.DependencyThresholds{Refresh: 1, Warning: 1, Critical: 1}, Strict: true, Now: clk})
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, adminToken, "", mon)
	// A read while the store works writes the last-known-good copy.
	if code, body := r.r(t, "/api/v1/config"); code != 200 || !strings.Contains(body, `"source":"store"`) {
		t.Fatalf("before: %d %s", code, body)
	}
	mon.Round(context.Background())
	code, body := r.r(t, "/api/v1/config")
	if code != 200 || !strings.Contains(body, `"source":"lkg"`) || !strings.Contains(body, "kv critical") {
		t.Fatalf("while KV is critical: %d %s", code, body)
	}
	_, body = r.r(t, "/api/v1/monitor")
	var m struct{ Critical []string }
	json.Unmarshal([]byte(body), &m)
	if len(m.Critical) != 1 {
		t.Errorf("monitor: %s", body)
	}
	// Recovery: a good probe, and reads go back to the store.
	down.Lock()
	failing = false
	down.Unlock()
	mon.Round(context.Background())
	if code, body := r.r(t, "/api/v1/config"); code != 200 || !strings.Contains(body, `"source":"store"`) {
		t.Fatalf("after recovery: %d %s", code, body)
	}
}

func (r *rig) r(t *testing.T, path string) (int, string) { return r.do(t, "GET", path, adminToken, "") }

// TestMonitorAlertsDeployments: the monitor's states and alerts, metrics
// of the dependencies, the deployments hook, and a monitor change on the
// event stream.
func TestMonitorAlertsDeployments(t *testing.T) {
	mem := kvstore.NewMemory(time.Now)
	open := func(context.Context) (kvstore.Store, func() error, error) {
		return mem, func() error { return nil }, nil
	}
	down := true
	var mu sync.Mutex
	probe := monitor.WithGauges(monitor.Func{N: "kv", M: "kv.latency_ms", F: func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return errors.New("kv down")
		}
		return nil
	}}, func(context.Context) (map[string]float64, error) {
		return map[string]float64{"d1.cache_hit_ratio": 0.75}, nil
	})
	var srv *server.Server
	mon, err := monitor.New(monitor.Options{Probes: []monitor.Probe{probe}, Strict: true,
		Thresholds: config.DependencyThresholds{Refresh: 1, Warning: 1, Critical: 1},
		Stores:     map[string]monitor.AlertStore{"KV": monitor.KVAlerts{Open: open}},
		OnChange:   func(a []monitor.Alert) { srv.MonitorChanged(a) }})
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, adminToken, "", mon)
	srv = r.s
	mon.Round(context.Background())
	_, body := r.r(t, "/api/v1/alerts")
	if !strings.Contains(body, `"to":"critical"`) {
		t.Errorf("alerts: %s", body)
	}
	_, body = r.r(t, "/metrics")
	if !strings.Contains(body, `edgeconf_dependency_up{dependency="kv"} 0`) {
		t.Errorf("metrics: %s", body)
	}
	mu.Lock()
	down = false
	mu.Unlock()
	mon.Round(context.Background())
	_, body = r.r(t, "/metrics")
	if !strings.Contains(body, `edgeconf_d1_cache_hit_ratio{dependency="kv"} 0.75`) || !strings.Contains(body, "# TYPE edgeconf_d1_cache_hit_ratio gauge") {
		t.Errorf("a probe's gauges are not in the metrics: %s", body)
	}
	_, body = r.r(t, "/api/v1/deployments")
	if !strings.Contains(body, `"available":false`) {
		t.Errorf("deployments without the hook: %s", body)
	}
	if hosts := server.LoopbackHosts("127.0.0.1:3000"); len(hosts) != 3 || hosts[1] != "localhost:3000" {
		t.Errorf("loopback hosts %v", hosts)
	}
	if hosts := server.LoopbackHosts("bad"); len(hosts) != 1 {
		t.Errorf("loopback hosts of a bad address %v", hosts)
	}
}

func TestDeploymentsHookAndOptions(t *testing.T) {
	if _, err := server.New(server.Options{}); err == nil {
		t.Error("no Open was accepted")
	}
	if _, err := server.New(server.Options{Open: func(context.Context, bool, string) (*server.Session, error) { return nil, errors.New("x") }}); err == nil {
		t.Error("no Hosts was accepted")
	}
	calls := 0
	s, err := server.New(server.Options{Hosts: []string{"h"}, AdminToken: adminToken,
		Open: func(context.Context, bool, string) (*server.Session, error) {
			return nil, errors.New("state folder locked")
		},
		Deployments: func(context.Context) (any, error) {
			calls++
			if calls == 1 {
				return map[string]string{"worker": "app"}, nil
			}
			return nil, errors.New("no token")
		}})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string) {
		req := httptest.NewRequest("GET", path, nil)
		req.Host = "h"
		req.Header.Set("Authorization", "Bearer "+adminToken)
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, req)
		return w.Code, w.Body.String()
	}
	if _, body := get("/api/v1/deployments"); !strings.Contains(body, `"available":true`) {
		t.Errorf("deployments: %s", body)
	}
	if _, body := get("/api/v1/deployments"); !strings.Contains(body, "no token") {
		t.Errorf("deployments failing: %s", body)
	}
	if code, body := get("/api/v1/config"); code != 503 || !strings.Contains(body, "locked") {
		t.Errorf("a store that cannot open: %d %s", code, body)
	}
}

// TestDatabases: the database page lists tables with row counts and the
// migrations of the folder, applied or pending.
func TestDatabases(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "0001_init.sql"), []byte("CREATE TABLE notes (id INTEGER);\nINSERT INTO notes VALUES (1);\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "0002_more.sql"), []byte("CREATE TABLE more (id INTEGER);\n"), 0o600)
	db, err := sqlite.Open(context.Background(), sqlite.Options{Dir: t.TempDir(), Name: "app-db"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := migrate.ApplyPending(context.Background(), db, dir, migrate.Options{}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "0003_later.sql"), []byte("CREATE TABLE later (id INTEGER);\n"), 0o600)
	s, err := server.New(server.Options{Hosts: []string{"h"},
		Open:      func(context.Context, bool, string) (*server.Session, error) { return nil, errors.New("unused") },
		Databases: []server.Database{{Binding: "DB", Name: "app-db", MigrationsDir: dir}, {Binding: "GONE", Name: "gone"}},
		OpenD1: func(_ context.Context, name string) (d1.DB, error) {
			if name == "gone" {
				return nil, errors.New("no such database")
			}
			return nopClose{db}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/api/v1/databases", nil)
	req.Host = "h"
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, req)
	var got []struct {
		Name   string
		Tables []struct {
			Name string
			Rows int
		}
		Migrations []struct {
			Name    string
			Applied bool
		}
		Error string
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || len(got) != 2 {
		t.Fatalf("databases: %v %s", err, w.Body)
	}
	if len(got[0].Tables) != 3 || got[0].Tables[2].Name != "notes" || got[0].Tables[2].Rows != 1 {
		t.Errorf("tables: %+v", got[0].Tables)
	}
	if len(got[0].Migrations) != 3 || !got[0].Migrations[1].Applied || got[0].Migrations[2].Applied {
		t.Errorf("migrations: %+v", got[0].Migrations)
	}
	if got[1].Error == "" {
		t.Errorf("a database that cannot open: %+v", got[1])
	}
}

// nopClose keeps the test's database open across requests.
type nopClose struct{ d1.DB }

func (nopClose) Close() error { return nil }

// TestTelemetry: the Worker's records in CONFIG are summarised per version.
func TestTelemetry(t *testing.T) {
	mem := kvstore.NewMemory(time.Now)
	ctx := context.Background()
	put := func(k, v string) {
		if err := mem.Put(ctx, k, []byte(v), kvstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	put("edgeconf/v1/telemetry/v1/iso-a", `{"version":"v1","tag":"ec-1","routes":{"/healthz":3,"/api/flags/:name":2},"flags":{"premium:on":2},"latencyMs":{"p50":1,"p95":4,"p99":9}}`)
	put("edgeconf/v1/telemetry/v1/iso-b", `{"version":"v1","routes":{"/healthz":1},"latencyMs":{"p50":2,"p95":3,"p99":5}}`)
	put("edgeconf/v1/errors/v1/2026-12-05T10:00:00Z-r1", `{"requestId":"r1","version":"v1","route":"/x","message":"boom","stack":"at x","at":"2026-12-05T10:00:00Z"}`)
	put("edgeconf/v1/errors/v2/2026-12-05T11:00:00Z-r2", `{"requestId":"r2","version":"v2","route":"/y","message":"bang","at":"2026-12-05T11:00:00Z"}`)
	put("edgeconf/v1/telemetry/v1/garbage", `not json`)
	s, err := server.New(server.Options{Hosts: []string{"h"}, Open: func(context.Context, bool, string) (*server.Session, error) {
		return &server.Session{Store: mem, Close: func() error { return nil }}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/api/v1/telemetry", nil)
	req.Host = "h"
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, req)
	var got struct {
		Versions []struct {
			Version          string
			Isolates, Errors int
			Requests         int
			P99ms            float64 `json:"p99Ms"`
			Flags            map[string]int
		}
		Errors []map[string]any
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("%v %s", err, w.Body)
	}
	if len(got.Versions) != 2 || got.Versions[0].Version != "v1" || got.Versions[0].Isolates != 2 || got.Versions[0].Requests != 6 ||
		got.Versions[0].Errors != 1 || got.Versions[0].P99ms != 9 || got.Versions[0].Flags["premium:on"] != 2 || got.Versions[1].Errors != 1 {
		t.Errorf("versions: %+v", got.Versions)
	}
	if len(got.Errors) != 2 || got.Errors[0]["requestId"] != "r2" || got.Errors[1]["stack"] != nil {
		t.Errorf("recent errors (newest first, no stack): %+v", got.Errors)
	}
}

// TestOverridesThroughTheAPI_RefusedDelete: a delete that would leave two
// servers on one port is refused with its problems (422), and nothing is
// deleted.
func TestOverridesThroughTheAPI_RefusedDelete(t *testing.T) {
	r := newRig(t, adminToken, readToken, nil)
	for _, put := range [][2]string{{"ports.main", `{"value":9000}`}, {"ports.dashboard", `{"value":8091}`}} {
		if code, body := r.do(t, "PUT", "/api/v1/overrides/"+put[0], adminToken, put[1]); code != 200 {
			t.Fatalf("set %s: %d %s", put[0], code, body)
		}
	}
	code, body := r.do(t, "DELETE", "/api/v1/overrides/ports.main", adminToken, "")
	if code != 422 || !strings.Contains(body, `"problems"`) || !strings.Contains(body, "once ports.main is deleted") {
		t.Fatalf("delete ports.main: %d %s; want 422 with the problem", code, body)
	}
	if _, body := r.do(t, "GET", "/api/v1/config", readToken, ""); !strings.Contains(body, "9000") {
		t.Errorf("the refused delete removed the override: %s", body)
	}
}
