package deploy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/cfemu"
	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/config"
)

// fakeClock is the clock and sleep of a deploy under test.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return nil
}

// versionProber answers for versions as healthy(id) says, and counts.
type versionProber struct {
	mu      sync.Mutex
	healthy func(id string, n int) bool
	probes  map[string]int
}

func (p *versionProber) Probe(_ context.Context, worker, id string) ProbeResult {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.probes == nil {
		p.probes = map[string]int{}
	}
	p.probes[id]++
	if worker != "app" {
		return ProbeResult{Problem: "wrong worker " + worker}
	}
	if p.healthy(id, p.probes[id]) {
		return ProbeResult{OK: true, Latency: 20 * time.Millisecond}
	}
	return ProbeResult{Problem: "/healthz answered 500", Latency: 30 * time.Millisecond}
}

func prepared(t *testing.T, c *cloudflare.Client, s Spec) *Prepared {
	t.Helper()
	st, err := Observe(context.Background(), c, s)
	if err != nil {
		t.Fatal(err)
	}
	return &Prepared{Spec: s, State: st, Plan: Compute(s, st, PlanOptions{SecretAvailable: func(n string) bool { return n == "DASHBOARD_TOKEN" }})}
}

func applyOpts(clk *fakeClock, pr Prober, j *Journal) ApplyOptions {
	return ApplyOptions{
		Secret: func(n string) (string, bool) { return "secret-" + n, n == "DASHBOARD_TOKEN" },
		Prober: pr, Journal: j, Now: clk.Now, Sleep: clk.Sleep,
		Gate: Gate{Window: time.Minute, Interval: 5 * time.Second, MinProbes: 5},
	}
}

func live(t *testing.T, c *cloudflare.Client) []cloudflare.Split {
	t.Helper()
	deps, err := c.Deployments(context.Background(), "app")
	if err != nil {
		t.Fatal(err)
	}
	return deps[0].Versions
}

// TestApply_FirstDeployThenCanary: a first deploy from an empty account
// creates the resources, makes a tagged version live and adds the route,
// custom domain and DNS record; a rerun is a no-op; a healthy canary of new
// code is promoted; an unhealthy one, and a failed smoke test, are rolled
// back with the previous version at 100 %.
func TestApply_FirstDeployThenCanary(t *testing.T) {
	c, ctx := emulator(t), context.Background()
	clk := &fakeClock{now: time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)}
	j := &Journal{Path: filepath.Join(t.TempDir(), "deploy-journal.json")}
	healthy := &versionProber{healthy: func(string, int) bool { return true }}

	firstOpts := applyOpts(clk, healthy, j)
	firstOpts.Canary = 10 // nothing to split with yet: skipped, and the result says so
	res, err := Apply(ctx, c, prepared(t, c, testSpec()), firstOpts)
	if err != nil {
		t.Fatalf("first deploy: %v\nsteps: %q", err, res.Steps)
	}
	if res.Outcome != Promoted || res.VersionID == "" || res.Smoke == nil || !res.Smoke.Healthy || res.Canary != nil {
		t.Fatalf("first deploy result %+v", res)
	}
	if !slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.Contains(w, "no canary: this is the Worker's first version") }) {
		t.Errorf("a skipped canary is not reported: %q", res.Warnings)
	}
	if sp := live(t, c); len(sp) != 1 || sp[0].VersionID != res.VersionID || sp[0].Percentage != 100 {
		t.Fatalf("live after the first deploy: %+v", sp)
	}
	again := prepared(t, c, testSpec())
	if again.Plan.HasChanges() {
		t.Fatalf("the plan after a first deploy still has changes: %+v", again.Plan.Changes)
	}
	if r, err := Apply(ctx, c, again, applyOpts(clk, healthy, j)); err != nil || r.Outcome != Unchanged {
		t.Fatalf("rerun: %+v, %v", r, err)
	}
	if _, ok := j.Entry("app"); ok {
		t.Error("a finished deploy left its journal entry")
	}
	first := res.VersionID

	// A healthy canary is promoted.
	s2 := testSpec()
	s2.Script = []byte("export default {v:2}")
	o := applyOpts(clk, healthy, j)
	o.Canary, o.Message = 10, "v2"
	res2, err := Apply(ctx, c, prepared(t, c, s2), o)
	if err != nil {
		t.Fatalf("canary deploy: %v\nsteps: %q", err, res2.Steps)
	}
	if res2.Outcome != Promoted || res2.PreviousVersion != first || res2.Canary == nil || res2.Canary.Probes < 5 || !res2.Canary.Healthy {
		t.Fatalf("canary result %+v (canary %+v)", res2, res2.Canary)
	}
	if sp := live(t, c); len(sp) != 1 || sp[0].VersionID != res2.VersionID {
		t.Fatalf("live after promotion: %+v", sp)
	}
	deps, _ := c.Deployments(ctx, "app")
	var saw []string
	for _, d := range deps {
		var parts []string
		for _, v := range d.Versions {
			parts = append(parts, fmt.Sprintf("%v", v.Percentage))
		}
		saw = append(saw, strings.Join(parts, "/"))
	}
	// Newest first: promote 100, canary 10/90, smoke 100/0.
	if got := strings.Join(saw[:3], " "); got != "100 10/90 100/0" {
		t.Errorf("deployments of the canary deploy (newest first) = %s", got)
	}

	// An unhealthy canary is rolled back.
	s3 := testSpec()
	s3.Script = []byte("export default {v:3}")
	sick := &versionProber{healthy: func(id string, n int) bool { return id != "" && n <= 3 }} // passes the smoke test, fails the canary
	o = applyOpts(clk, sick, j)
	o.Canary = 10
	res3, err := Apply(ctx, c, prepared(t, c, s3), o)
	if !errors.Is(err, ErrUnhealthy) || res3.Outcome != RolledBack || res3.Canary == nil || res3.Canary.Healthy {
		t.Fatalf("unhealthy canary: %v, %+v", err, res3)
	}
	if !strings.Contains(err.Error(), "error rate") || !strings.Contains(err.Error(), res2.VersionID) {
		t.Errorf("the error does not say what was seen and what is live: %v", err)
	}
	if sp := live(t, c); len(sp) != 1 || sp[0].VersionID != res2.VersionID || sp[0].Percentage != 100 {
		t.Fatalf("live after the rollback: %+v, want %s at 100", sp, res2.VersionID)
	}

	// A failed smoke test never reaches the canary.
	s4 := testSpec()
	s4.Script = []byte("export default {v:4}")
	broken := &versionProber{healthy: func(string, int) bool { return false }}
	o = applyOpts(clk, broken, j)
	o.Canary = 10
	res4, err := Apply(ctx, c, prepared(t, c, s4), o)
	if !errors.Is(err, ErrUnhealthy) || res4.Canary != nil || res4.Smoke == nil || res4.Smoke.Probes != 1 {
		t.Fatalf("failed smoke test: %v, %+v", err, res4)
	}
	if sp := live(t, c); sp[0].VersionID != res2.VersionID {
		t.Fatalf("live after a failed smoke test: %+v", sp)
	}
}

// TestApply_Refused: problems, destructive changes, takeovers and a bad
// canary are refused before anything changes.
func TestApply_Refused(t *testing.T) {
	clk := &fakeClock{now: time.Unix(0, 0)}
	pr := &versionProber{healthy: func(string, int) bool { return true }}
	base := func() *Prepared {
		s := testSpec()
		st := deployed(s)
		return &Prepared{Spec: s, State: st}
	}
	cases := map[string]struct {
		prep func() *Prepared
		opts func(*ApplyOptions)
		want string
	}{
		"problem":               {func() *Prepared { p := base(); p.State.Secrets = nil; p.State.Live.Bindings = nil; return p }, nil, "DASHBOARD_TOKEN"},
		"destructive":           {func() *Prepared { p := base(); p.Spec.Vars = nil; return p }, nil, "--yes"},
		"takeover":              {func() *Prepared { p := base(); p.State.Routes[0].Script = "other"; return p }, nil, "--allow-dns-takeover"},
		"canary range":          {func() *Prepared { p := base(); p.Spec.Script = []byte("new"); return p }, func(o *ApplyOptions) { o.Canary = 100 }, "1 to 99"},
		"canary without prober": {func() *Prepared { p := base(); p.Spec.Script = []byte("new"); return p }, func(o *ApplyOptions) { o.Canary, o.Prober = 10, nil }, "URL to probe"},
	}
	for name, tc := range cases {
		p := tc.prep()
		p.Plan = Compute(p.Spec, p.State, PlanOptions{})
		o := applyOpts(clk, pr, nil)
		if tc.opts != nil {
			tc.opts(&o)
		}
		// A nil account: anything Apply tried to change would panic.
		res, err := Apply(context.Background(), nil, p, o)
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tc.want) || len(res.Steps) != 0 {
			t.Errorf("%s: %v (steps %q), want a refusal naming %q", name, err, res.Steps, tc.want)
		}
	}
}

// TestApply_Resume: a deploy interrupted after its upload reuses that
// version when run again instead of uploading another.
func TestApply_Resume(t *testing.T) {
	c, ctx := emulator(t), context.Background()
	clk := &fakeClock{now: time.Unix(0, 0)}
	j := &Journal{Path: filepath.Join(t.TempDir(), "journal.json")}
	pr := &versionProber{healthy: func(string, int) bool { return true }}
	if _, err := Apply(ctx, c, prepared(t, c, testSpec()), applyOpts(clk, pr, j)); err != nil {
		t.Fatal(err)
	}
	s := testSpec()
	s.Script = []byte("export default {v:2}")
	// The interrupted run: uploaded, journaled, then killed.
	p := prepared(t, c, s)
	up, err := (&applier{p: p, o: applyOpts(clk, pr, j), res: &Result{}}).upload(p.State.Namespaces, p.State.Databases)
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.UploadVersion(ctx, "app", up)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Record(Entry{Worker: "app", CodeTag: s.CodeTag(), VersionID: v.ID, PreviousVersion: p.State.Live.ID, Phase: "uploaded"}); err != nil {
		t.Fatal(err)
	}
	before, _ := c.Versions(ctx, "app", 0)
	res, err := Apply(ctx, c, prepared(t, c, s), applyOpts(clk, pr, j))
	if err != nil {
		t.Fatal(err)
	}
	after, _ := c.Versions(ctx, "app", 0)
	if res.VersionID != v.ID || len(after) != len(before) {
		t.Fatalf("the rerun uploaded again: version %s (want %s), %d versions before, %d after", res.VersionID, v.ID, len(before), len(after))
	}
	if sp := live(t, c); sp[0].VersionID != v.ID {
		t.Fatalf("live = %+v", sp)
	}
}

// TestHTTPProber: the probe sends the version override header and checks
// that the answer names the version.
func TestHTTPProber(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get(VersionOverrideHeader)
		switch {
		case r.URL.Path != "/healthz":
			http.NotFound(w, r)
		case strings.Contains(h, `"bad"`):
			w.WriteHeader(http.StatusInternalServerError)
		case strings.Contains(h, `"notjson"`):
			fmt.Fprint(w, "<html>")
		case strings.Contains(h, `"degraded"`):
			fmt.Fprint(w, `{"status":"degraded","version":{"id":"degraded"}}`)
		case strings.HasPrefix(h, `app="`):
			id := strings.TrimSuffix(strings.TrimPrefix(h, `app="`), `"`)
			if id == "other" {
				id = "v-live"
			}
			fmt.Fprintf(w, `{"status":"ok","version":{"id":%q}}`, id)
		default:
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	defer srv.Close()
	p := HTTPProber{BaseURL: srv.URL + "/"}
	ctx := context.Background()
	if r := p.Probe(ctx, "app", "v1"); !r.OK {
		t.Fatalf("healthy version: %+v", r)
	}
	for id, want := range map[string]string{"bad": "500", "notjson": "not JSON", "degraded": "degraded", "other": "not other"} {
		if r := p.Probe(ctx, "app", id); r.OK || !strings.Contains(r.Problem, want) {
			t.Errorf("%s: %+v, want a problem naming %q", id, r, want)
		}
	}
	if r := (HTTPProber{BaseURL: "http://127.0.0.1:1"}).Probe(ctx, "app", "v1"); r.OK || r.Problem == "" {
		t.Errorf("unreachable: %+v", r)
	}
}

// TestJournal: entries are per Worker, survive a reopen and go with Done; a
// damaged journal is named.
func TestJournal(t *testing.T) {
	j := &Journal{Path: filepath.Join(t.TempDir(), "sub", "j.json")}
	if _, ok := j.Entry("a"); ok {
		t.Fatal("an empty journal has an entry")
	}
	if err := j.Record(Entry{Worker: "a", VersionID: "1"}); err != nil {
		t.Fatal(err)
	}
	if err := j.Record(Entry{Worker: "b", VersionID: "2"}); err != nil {
		t.Fatal(err)
	}
	if e, ok := (&Journal{Path: j.Path}).Entry("a"); !ok || e.VersionID != "1" {
		t.Fatalf("entry a = %+v, %v", e, ok)
	}
	if err := j.Done("a"); err != nil {
		t.Fatal(err)
	}
	if _, ok := j.Entry("a"); ok {
		t.Fatal("Done left the entry")
	}
	if e, ok := j.Entry("b"); !ok || e.VersionID != "2" {
		t.Fatal("Done removed another Worker's entry")
	}
	if err := writeFile(j.Path, "{broken"); err != nil {
		t.Fatal(err)
	}
	if err := j.Record(Entry{Worker: "c"}); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("a damaged journal: %v", err)
	}
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }

// TestApply_TriggersMigrationAndTakeover: after a first deploy, taking over
// a foreign route and record needs AllowTakeover; dropping routes, domains
// and records needs Yes and removes only edgeconf's; a new Durable Object
// class goes out as a script upload with a migration naming the old tag.
func TestApply_TriggersMigrationAndTakeover(t *testing.T) {
	c, ctx := emulator(t), context.Background()
	clk := &fakeClock{now: time.Unix(0, 0)}
	ok := &versionProber{healthy: func(string, int) bool { return true }}
	if _, err := Apply(ctx, c, prepared(t, c, testSpec()), applyOpts(clk, ok, nil)); err != nil {
		t.Fatal(err)
	}
	z, err := c.ZoneFor(ctx, "example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UploadScript(ctx, "other", cloudflare.Upload{MainModule: "i.js", Modules: []cloudflare.Module{{Name: "i.js", Content: []byte("x")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateRoute(ctx, z.ID, "api.example.com/*", "other"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateDNSRecord(ctx, z.ID, cloudflare.DNSRecord{Type: "A", Name: "api.example.com", Content: "192.0.2.7"}); err != nil {
		t.Fatal(err)
	}
	s := testSpec()
	s.Routes = append(s.Routes, config.Route{Pattern: "api.example.com/*"})
	s.DNS = append(s.DNS, config.DNSRecord{Type: "A", Name: "api.example.com", Content: "192.0.2.8"})
	if _, err := Apply(ctx, c, prepared(t, c, s), applyOpts(clk, ok, nil)); !errors.Is(err, ErrRefused) {
		t.Fatalf("a takeover without AllowTakeover: %v", err)
	}
	o := applyOpts(clk, ok, nil)
	o.AllowTakeover = true
	if res, err := Apply(ctx, c, prepared(t, c, s), o); err != nil {
		t.Fatalf("takeover: %v (%q)", err, res.Steps)
	}
	routes, _ := c.Routes(ctx, z.ID)
	recs, _ := c.DNSRecords(ctx, z.ID, "api.example.com")
	if len(routes) != 2 || routes[0].Pattern != "api.example.com/*" || routes[0].Script != "app" || len(recs) != 1 || recs[0].Content != "192.0.2.8" || recs[0].Comment != ownerComment("app") {
		t.Fatalf("after the takeover: routes %+v, records %+v", routes, recs)
	}

	// Drop the routes, the domain and the records; add a class.
	s2 := testSpec()
	s2.Routes, s2.DNS = nil, nil
	s2.DO = append(s2.DO, config.DurableObject{Binding: "ROOMS", ClassName: "Room"})
	o = applyOpts(clk, ok, nil)
	if _, err := Apply(ctx, c, prepared(t, c, s2), o); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "--yes") {
		t.Fatalf("deletions without Yes: %v", err)
	}
	o.Yes = true
	res, err := Apply(ctx, c, prepared(t, c, s2), o)
	if err != nil {
		t.Fatalf("deletions and a migration: %v (%q)", err, res.Steps)
	}
	if len(res.Warnings) == 0 || !strings.Contains(res.Warnings[0], "migration") {
		t.Errorf("a migration deploy does not warn that it skips the canary: %q", res.Warnings)
	}
	routes, _ = c.Routes(ctx, z.ID)
	all, _ := c.DNSRecords(ctx, z.ID, "")
	domains, _ := c.Domains(ctx, "app", "")
	if len(routes) != 0 || len(domains) != 0 || len(all) != 0 {
		t.Fatalf("after dropping them: routes %+v, domains %+v, records %+v", routes, domains, all)
	}
	if p := prepared(t, c, s2); p.Plan.HasChanges() {
		t.Fatalf("the plan after the migration deploy still has changes: %+v", p.Plan.Changes)
	}
}

// TestApply_FirstDeployUnhealthy: a first deploy whose version fails its
// probes has nothing to roll back to, and says so.
func TestApply_FirstDeployUnhealthy(t *testing.T) {
	c, ctx := emulator(t), context.Background()
	clk := &fakeClock{now: time.Unix(0, 0)}
	bad := &versionProber{healthy: func(string, int) bool { return false }}
	res, err := Apply(ctx, c, prepared(t, c, testSpec()), applyOpts(clk, bad, nil))
	if !errors.Is(err, ErrUnhealthy) || !strings.Contains(err.Error(), "no previous version") || res.Outcome != "unhealthy" {
		t.Fatalf("unhealthy first deploy: %v, %+v", err, res)
	}
}

// TestPrepare builds a Worker from a configuration and plans it.
func TestPrepare(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.js"), []byte("export default { fetch() { return new Response('ok') } }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "cloudflare-config.yaml")
	if err := os.WriteFile(cfgPath, []byte("cloudflare:\n  worker: { name: app, main: index.js, compatibilityDate: \"2026-01-01\" }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	doc, err := config.Load(cfgPath, config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := emulator(t)
	p, err := Prepare(context.Background(), PrepareOptions{Doc: doc, API: c})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Plan.FirstDeploy || len(p.Spec.Script) == 0 || find(p.Plan, "worker", "app") == nil {
		t.Fatalf("prepared %+v", p.Plan)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.js"), []byte("export default {\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Prepare(context.Background(), PrepareOptions{Doc: doc, API: c}); err == nil || !strings.Contains(err.Error(), "index.js:") {
		t.Fatalf("a syntax error: %v", err)
	}
}

// TestApply_SplitLeftBehind: an interrupted canary leaves traffic split;
// when the code wanted is the majority's, the plan says so and the deploy
// puts it back at 100 %.
func TestApply_SplitLeftBehind(t *testing.T) {
	c, ctx := emulator(t), context.Background()
	clk := &fakeClock{now: time.Unix(0, 0)}
	ok := &versionProber{healthy: func(string, int) bool { return true }}
	r1, err := Apply(ctx, c, prepared(t, c, testSpec()), applyOpts(clk, ok, nil))
	if err != nil {
		t.Fatal(err)
	}
	s2 := testSpec()
	s2.Script = []byte("export default {v:2}")
	p2 := prepared(t, c, s2)
	up, err := (&applier{p: p2, o: applyOpts(clk, ok, nil), res: &Result{}}).upload(p2.State.Namespaces, p2.State.Databases)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := c.UploadVersion(ctx, "app", up)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Deploy(ctx, "app", cloudflare.DeployOptions{Versions: []cloudflare.Split{{VersionID: v2.ID, Percentage: 10}, {VersionID: r1.VersionID, Percentage: 90}}}); err != nil {
		t.Fatal(err)
	}
	p := prepared(t, c, testSpec())
	if ch := find(p.Plan, "deployment", "app"); ch == nil || ch.Action != Update {
		t.Fatalf("a split left behind is not in the plan: %+v", p.Plan.Changes)
	}
	if _, err := Apply(ctx, c, p, applyOpts(clk, ok, nil)); err != nil {
		t.Fatal(err)
	}
	if sp := live(t, c); len(sp) != 1 || sp[0].VersionID != r1.VersionID || sp[0].Percentage != 100 {
		t.Fatalf("live after fixing the split: %+v", sp)
	}
}

// TestApply_UnderFaults: with 20 % of the emulator's answers failing (some
// after the change was applied), a full deploy still converges: a rerun
// after any failure ends with the wanted state and no duplicates.
func TestApply_UnderFaults(t *testing.T) {
	emu, err := cfemu.New(cfemu.Options{Token: emuToken, RateLimit: -1, FailRate: 0.2, Seed: 20, Zones: []cfemu.ZoneSeed{{Name: "example.com", AccountID: emuAccount}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	defer func() { srv.Close(); emu.Close() }()
	c, err := cloudflare.New(cloudflare.Options{BaseURL: srv.URL + "/client/v4", Token: emuToken, AccountID: emuAccount,
		Retry: cloudflare.RetryPolicy{RequestsPerWindow: -1, MaxAttempts: 12, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, BudgetCapacity: -1}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	clk := &fakeClock{now: time.Unix(0, 0)}
	ok := &versionProber{healthy: func(string, int) bool { return true }}
	j := &Journal{Path: filepath.Join(t.TempDir(), "j.json")}
	for round, code := range []string{"v1", "v2", "v3"} {
		s := testSpec()
		s.Script = []byte(code)
		o := applyOpts(clk, ok, j)
		o.Canary = 10
		var lastErr error
		converged := false
		for attempt := 0; attempt < 5 && !converged; attempt++ {
			st, err := Observe(ctx, c, s)
			if err != nil {
				lastErr = err
				continue
			}
			p := &Prepared{Spec: s, State: st, Plan: Compute(s, st, PlanOptions{SecretAvailable: func(string) bool { return true }})}
			if _, lastErr = Apply(ctx, c, p, o); lastErr == nil {
				converged = true
			}
		}
		if !converged {
			t.Fatalf("round %d did not converge in 5 runs: %v", round, lastErr)
		}
	}
	// Read the end state without faults.
	clean, err := cloudflare.New(cloudflare.Options{BaseURL: srv.URL + "/client/v4", Token: emuToken, AccountID: emuAccount,
		Retry: cloudflare.RetryPolicy{RequestsPerWindow: -1, MaxAttempts: 30, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond, BudgetCapacity: -1}})
	if err != nil {
		t.Fatal(err)
	}
	s := testSpec()
	s.Script = []byte("v3")
	nss, _ := clean.Namespaces(ctx)
	buckets, _ := clean.Buckets(ctx)
	if len(nss) != 1 || len(buckets) != 1 {
		t.Errorf("duplicates under faults: namespaces %+v, buckets %+v", nss, buckets)
	}
	deps, err := clean.Deployments(ctx, "app")
	if err != nil || len(deps[0].Versions) != 1 || deps[0].Versions[0].Percentage != 100 {
		t.Fatalf("live under faults: %+v, %v", deps, err)
	}
	if v, _ := clean.Version(ctx, "app", deps[0].Versions[0].VersionID); v.Tag != s.CodeTag() {
		t.Errorf("the live version is not the last code: %+v", v)
	}
}

// TestApply_Migrations: pending D1 migrations are planned; deploy leaves
// them with a warning unless Migrate, which applies them before the upload;
// a failing one stops the deploy before anything is uploaded.
func TestApply_Migrations(t *testing.T) {
	c, ctx := emulator(t), context.Background()
	clk := &fakeClock{now: time.Unix(0, 0)}
	ok := &versionProber{healthy: func(string, int) bool { return true }}
	dir := t.TempDir()
	write := func(name, sql string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(sql), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("0001_init.sql", "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);\n")
	write("0002_seed.sql", "INSERT INTO notes (body) VALUES ('hello');\n")
	s := testSpec()
	s.MigrationsDir = map[string]string{"app-db": dir}
	p := prepared(t, c, s)
	if find(p.Plan, "d1_migration", "app-db/0001_init.sql") == nil || find(p.Plan, "d1_migration", "app-db/0002_seed.sql") == nil {
		t.Fatalf("migrations of a database to create are not planned: %+v", p.Plan.Changes)
	}
	res, err := Apply(ctx, c, p, applyOpts(clk, ok, nil))
	if err != nil || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "--migrate") {
		t.Fatalf("without Migrate: %v, warnings %q", err, res.Warnings)
	}
	o := applyOpts(clk, ok, nil)
	o.Migrate = true
	if res, err = Apply(ctx, c, prepared(t, c, s), o); err != nil {
		t.Fatalf("with Migrate: %v (%q)", err, res.Steps)
	}
	db, err := c.Database(ctx, "app-db")
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.D1(db).Query(ctx, "SELECT body FROM notes")
	if err != nil || len(r.Rows) != 1 {
		t.Fatalf("after the migrations: %+v, %v", r, err)
	}
	if p := prepared(t, c, s); p.Plan.HasChanges() {
		t.Fatalf("applied migrations are still planned: %+v", p.Plan.Changes)
	}
	write("0003_bad.sql", "SELECT 1;\nINSERT INTO missing_table VALUES (1);\n")
	s.Script = []byte("export default {v:'needs 0003'}")
	before := live(t, c)
	_, err = Apply(ctx, c, prepared(t, c, s), o)
	if err == nil || !strings.Contains(err.Error(), "0003_bad.sql") || !strings.Contains(err.Error(), "nothing was uploaded") {
		t.Fatalf("a failing migration: %v", err)
	}
	if after := live(t, c); after[0].VersionID != before[0].VersionID {
		t.Fatalf("a failed migration still deployed new code: %+v → %+v", before, after)
	}
}
