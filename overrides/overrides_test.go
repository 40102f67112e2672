package overrides_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/overrides"
	"github.com/factory-wager/edgeconf/report"
)

var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func loadSeed(t testing.TB, env string) *config.Document {
	t.Helper()
	doc, err := config.Load("../config/testdata/valid/seed.yaml", config.LoadOptions{Env: env, LookupEnv: func(k string) (string, bool) {
		if k == "CLOUDFLARE_ACCOUNT_ID" {
			return "0123456789abcdef0123456789abcdef", true
		}
		return "", false
	}})
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

type fixture struct {
	m     *overrides.Manager
	store *kvstore.Memory
	now   *time.Time
	lkg   string
}

func newFixture(t testing.TB, env string) *fixture {
	now := t0
	store := kvstore.NewMemory(func() time.Time { return now })
	f := &fixture{store: store, now: &now, lkg: filepath.Join(t.TempDir(), "lkg.json")}
	f.m = overrides.New(overrides.Options{Store: store, Doc: loadSeed(t, env), Env: env, By: "alice",
		Now: func() time.Time { return now }, LKGPath: f.lkg})
	return f
}

func TestManager_SetGetListDelete(t *testing.T) {
	f := newFixture(t, "")
	ctx := context.Background()
	rec, err := f.m.Set(ctx, "features.premium.rolloutPercentage", 50.0, overrides.SetOptions{TTL: time.Hour})
	if err != nil {
		t.Fatalf("Set: %v", err)
	}
	if rec.Rev != 1 || rec.SetBy != "alice" || rec.Key != "edgeconf/v1/overrides/_base/features.premium.rolloutPercentage" || !rec.Expiration.Equal(t0.Add(time.Hour)) {
		t.Errorf("record = %+v", rec)
	}
	*f.now = f.now.Add(time.Second)
	rec, err = f.m.Set(ctx, "features.premium.rolloutPercentage", 60, overrides.SetOptions{By: "bob"})
	if err != nil || rec.Rev != 2 || rec.SetBy != "bob" {
		t.Fatalf("second Set = %+v, %v; want rev 2 by bob", rec, err)
	}
	got, err := f.m.Get(ctx, "features.premium.rolloutPercentage")
	if err != nil || got.Value != 60.0 || got.Rev != 2 || !got.Expiration.IsZero() {
		t.Errorf("Get = %+v, %v", got, err)
	}
	*f.now = f.now.Add(time.Second)
	if _, err := f.m.Set(ctx, "cloudflare.vars.REGION", "eu", overrides.SetOptions{}); err != nil {
		t.Fatal(err)
	}
	list, err := f.m.List(ctx, "")
	if err != nil || len(list) != 2 || list[0].Path != "cloudflare.vars.REGION" {
		t.Errorf("List = %+v, %v", list, err)
	}
	if list, _ := f.m.List(ctx, "features."); len(list) != 1 {
		t.Errorf("List(features.) = %+v", list)
	}
	*f.now = f.now.Add(time.Second)
	if err := f.m.Delete(ctx, "cloudflare.vars.REGION", "carol"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.m.Get(ctx, "cloudflare.vars.REGION"); !errors.Is(err, overrides.ErrNotFound) {
		t.Errorf("Get after Delete = %v", err)
	}
	if err := f.m.Delete(ctx, "cloudflare.vars.REGION", ""); !errors.Is(err, overrides.ErrNotFound) {
		t.Errorf("Delete of a missing override = %v", err)
	}
	hist, err := f.m.History(ctx, "")
	if err != nil || len(hist) != 4 {
		t.Fatalf("History = %+v, %v; want 4 records", hist, err)
	}
	if h := hist[1]; h.Action != "set" || h.Rev != 2 || h.Who != "bob" || h.OldHash == "" || h.NewHash == "" || h.OldHash == h.NewHash {
		t.Errorf("second audit record = %+v", h)
	}
	if h := hist[3]; h.Action != "delete" || h.Who != "carol" || h.NewHash != "" {
		t.Errorf("delete audit record = %+v", h)
	}
	if h, _ := f.m.History(ctx, "features.premium.rolloutPercentage"); len(h) != 2 {
		t.Errorf("History(path) = %d records, want 2", len(h))
	}
	// The TTL applies: at expiry the override is gone.
	if _, err := f.m.Set(ctx, "owner", "temp-team", overrides.SetOptions{TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	*f.now = f.now.Add(time.Minute)
	if _, err := f.m.Get(ctx, "owner"); !errors.Is(err, overrides.ErrNotFound) {
		t.Errorf("an expired override is still there: %v", err)
	}
}

func TestManager_SetRefused(t *testing.T) {
	f := newFixture(t, "")
	ctx := context.Background()
	tests := []struct {
		name  string
		path  string
		value any
		opts  overrides.SetOptions
		want  string
	}{
		{"unknown path", "features.premium.rollout", 5, overrides.SetOptions{}, `has no key "rollout"`},
		{"unknown top key", "domian", "x", overrides.SetOptions{}, `did you mean "domain"`},
		{"wrong type", "ports.main", "eighty", overrides.SetOptions{}, `expected a whole number, got "eighty"`},
		{"out of range", "features.premium.rolloutPercentage", 150, overrides.SetOptions{}, "150 is outside 0..100"},
		{"distinct ports", "ports.dashboard", 8091, overrides.SetOptions{}, "8091 is already ports.main"},
		{"list index", "cloudflare.routes[3].pattern", "x", overrides.SetOptions{}, "does not exist"},
		{"null", "owner", nil, overrides.SetOptions{}, "null is not a value"},
		{"bad ref", "owner", nil, overrides.SetOptions{Ref: "s3://x/y"}, `unknown kind "s3"`},
		{"missing ref", "owner", nil, overrides.SetOptions{Ref: "kv://CONFIG/nope"}, "key not found"},
		{"whole section with a bad field", "ports", map[string]any{"main": 0}, overrides.SetOptions{}, "0 is outside 1..65535"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.m.Set(ctx, tc.path, tc.value, tc.opts)
			var re *overrides.RefusedError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Set(%s, %v) = %v, want a refusal containing %q", tc.path, tc.value, err, tc.want)
			}
		})
	}
	if list, _ := f.m.List(ctx, ""); len(list) != 0 {
		t.Errorf("refused overrides were written: %+v", list)
	}
	if _, err := f.m.Set(ctx, "ports.main", 8080, overrides.SetOptions{TTL: 30 * time.Second}); err == nil || !strings.Contains(err.Error(), "below the minimum of 60") {
		t.Errorf("a 30 s TTL = %v, want the KV minimum named", err)
	}
	// A new flag is a new map key: allowed.
	if _, err := f.m.Set(ctx, "features.darkMode", map[string]any{"enabled": true, "rolloutPercentage": 5}, overrides.SetOptions{}); err != nil {
		t.Errorf("a new flag: %v", err)
	}
}

func TestManager_ConcurrentSetsLoseNothing(t *testing.T) {
	f := newFixture(t, "")
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				if _, err := f.m.Set(ctx, "features.premium.rolloutPercentage", float64(g*10+i), overrides.SetOptions{By: fmt.Sprint(g)}); err != nil {
					t.Error(err)
				}
			}
		}(g)
	}
	wg.Wait()
	rec, err := f.m.Get(ctx, "features.premium.rolloutPercentage")
	if err != nil || rec.Rev != 40 {
		t.Errorf("after 40 concurrent sets rev = %d (%v), want 40", rec.Rev, err)
	}
	hist, _ := f.m.History(ctx, "features.premium.rolloutPercentage")
	revs := map[int64]bool{}
	for _, h := range hist {
		revs[h.Rev] = true
	}
	if len(hist) != 40 || len(revs) != 40 {
		t.Errorf("%d audit records with %d distinct revisions, want 40 and 40", len(hist), len(revs))
	}
}

func TestResolve_EffectiveConfigAndProvenance(t *testing.T) {
	f := newFixture(t, "staging")
	ctx := context.Background()
	mustSet(t, f, "cloudflare.worker.name", "quantum-canary", overrides.SetOptions{TTL: 2 * time.Hour})
	mustPut(t, f.store, "premium-users", `["bob@factory-wager.com"]`)
	mustSet(t, f, "features.premium.allowedUsers", nil, overrides.SetOptions{Ref: "kv://CONFIG/premium-users"})
	snap, err := f.m.Resolve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Source != overrides.SourceStore || len(snap.Problems) != 0 {
		t.Fatalf("snapshot source %s, problems %v", snap.Source, snap.Problems)
	}
	if v, ok := snap.Get("cloudflare.worker.name"); !ok || v.String() != "quantum-canary" {
		t.Errorf("Get(worker.name) = %v, %v", v, ok)
	}
	if premium := snap.Doc.Config.Features["premium"]; !premium.IsAllowed("bob@factory-wager.com") {
		t.Error("the referenced allowedUsers were not applied")
	}
	e, err := snap.Doc.Explain("cloudflare.worker.name")
	if err != nil {
		t.Fatal(err)
	}
	if e.Source.Layer != "kv" || e.Source.SetBy != "alice" || e.Source.ExpiresAt != "2026-06-01T14:00:00Z" || e.Source.Key != "edgeconf/v1/overrides/staging/cloudflare.worker.name" {
		t.Errorf("source = %+v", e.Source)
	}
	if len(e.Shadowed) < 2 || e.Shadowed[0].Layer != "environment:staging" || e.Shadowed[1].Layer != "file" {
		t.Errorf("shadows = %+v, want the staging value then the file value", e.Shadowed)
	}
	if e, _ := snap.Doc.Explain("features.premium.allowedUsers[0]"); e.Source.Ref != "kv://CONFIG/premium-users" {
		t.Errorf("allowedUsers source = %+v", e.Source)
	}

	r := f.m.Validate(ctx, snap, t0)
	marks := map[string][2]bool{}
	for _, e := range r.Config {
		marks[e.Section] = [2]bool{e.KVOverride, e.CrossAPIRef}
	}
	if marks["cloudflare.worker"] != [2]bool{true, false} || marks["features.premium"] != [2]bool{true, true} || marks["ports"] != [2]bool{} {
		t.Errorf("kvOverride/crossApiRef marks = %v", marks)
	}
	lines := reportLines(r)
	if !strings.Contains(lines, "Warning ref-unresolved") || !strings.Contains(lines, "crossReferences[1]: r2://FILES/certs/tls.pem was not checked") || !strings.Contains(lines, "R2 references: reference cannot be resolved here") {
		t.Errorf("R2 cross-reference must say not available yet:\n%s", lines)
	}
	if strings.Contains(lines, "crossReferences[0]") {
		t.Errorf("the KV cross-reference resolves and is a valid string list:\n%s", lines)
	}
}

func TestValidate_CrossReferences(t *testing.T) {
	f := newFixture(t, "")
	ctx := context.Background()
	snap, err := f.m.Resolve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := reportLines(f.m.Validate(ctx, snap, t0)); !strings.Contains(got, "Warning ref-missing") || !strings.Contains(got, "crossReferences[0]: kv://CONFIG/premium-users does not exist in memory yet") {
		t.Errorf("a missing KV value:\n%s", got)
	}
	mustPut(t, f.store, "premium-users", `{"not":"a list"}`)
	*f.now = f.now.Add(overrides.DefaultRefCacheTTL) // past the reference cache
	if got := reportLines(f.m.Validate(ctx, snap, t0)); !strings.Contains(got, "Invalid ref-validator") || !strings.Contains(got, "JSON array of strings") {
		t.Errorf("a value failing its validator:\n%s", got)
	}
	mustPut(t, f.store, "premium-users", "kv://CONFIG/premium-users")
	*f.now = f.now.Add(overrides.DefaultRefCacheTTL)
	if got := reportLines(f.m.Validate(ctx, snap, t0)); !strings.Contains(got, "Invalid ref-resolve") || !strings.Contains(got, "reference cycle") {
		t.Errorf("a cycle:\n%s", got)
	}
}

func TestResolve_LastKnownGood(t *testing.T) {
	f := newFixture(t, "")
	ctx := context.Background()
	mustSet(t, f, "owner", "team-a", overrides.SetOptions{})
	if _, err := f.m.Resolve(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(f.lkg)
	if err != nil || !bytes.Contains(b, []byte(`"owner": "team-a"`)) {
		t.Fatalf("lkg.json after a good resolve: %s, %v", b, err)
	}
	// An override that makes the config Invalid (written past the manager)
	// must not replace the copy.
	mustPutRaw(t, f.store, overrides.OverrideKey("", "ports.main"), "0")
	snap, err := f.m.Resolve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !f.m.Validate(ctx, snap, t0).Failed(false) {
		t.Fatal("want the raw bad override to make the config Invalid")
	}
	if b2, _ := os.ReadFile(f.lkg); !bytes.Equal(b, b2) {
		t.Error("an invalid configuration replaced the last-known-good copy")
	}
	// The store fails: the copy is served, and says so.
	broken := overrides.New(overrides.Options{Store: failing{f.store}, Doc: loadSeed(t, ""), By: "x", Now: func() time.Time { return t0.Add(time.Hour) }, LKGPath: f.lkg})
	snap, err = broken.Resolve(ctx)
	if err != nil {
		t.Fatalf("Resolve with a failing store and an LKG copy: %v", err)
	}
	if snap.Source != overrides.SourceLKG || snap.Doc.Config.Owner != "team-a" || snap.Age(t0.Add(time.Hour)) != time.Hour || snap.StoreErr == nil {
		t.Errorf("LKG snapshot: source %s, owner %q, age %v, err %v", snap.Source, snap.Doc.Config.Owner, snap.Age(t0.Add(time.Hour)), snap.StoreErr)
	}
	if got := reportLines(broken.Validate(ctx, snap, t0.Add(90*time.Minute))); !strings.Contains(got, "store-unavailable") || !strings.Contains(got, "saved 1h30m0s ago") {
		t.Errorf("the report does not say the store is unavailable:\n%s", got)
	}
	// With no copy at all, the store's error comes back.
	none := overrides.New(overrides.Options{Store: failing{f.store}, Doc: loadSeed(t, ""), LKGPath: filepath.Join(t.TempDir(), "lkg.json")})
	if _, err := none.Resolve(ctx); err == nil || !strings.Contains(err.Error(), "store down") {
		t.Errorf("Resolve without LKG = %v", err)
	}
	// A copy for another environment is not served.
	other := overrides.New(overrides.Options{Store: failing{f.store}, Doc: loadSeed(t, "staging"), Env: "staging", LKGPath: f.lkg})
	if _, err := other.Resolve(ctx); err == nil || !strings.Contains(err.Error(), `holds environment "_base"`) {
		t.Errorf("Resolve(staging) with a base LKG = %v", err)
	}
}

func TestResolve_BrokenRefKeepsFileValue(t *testing.T) {
	f := newFixture(t, "")
	ctx := context.Background()
	mustPut(t, f.store, "owner-ref", `"team-ref"`)
	mustSet(t, f, "owner", nil, overrides.SetOptions{Ref: "kv://CONFIG/owner-ref"})
	if err := f.store.Delete(ctx, "owner-ref"); err != nil {
		t.Fatal(err)
	}
	*f.now = f.now.Add(overrides.DefaultRefCacheTTL - time.Second)
	if snap, _ := f.m.Resolve(ctx); snap.Doc.Config.Owner != "team-ref" {
		t.Errorf("within the cache TTL the resolved value stays: owner %q", snap.Doc.Config.Owner)
	}
	*f.now = f.now.Add(time.Second)
	snap, err := f.m.Resolve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Doc.Config.Owner != "platform-team" || len(snap.Problems) != 1 || !strings.Contains(snap.Problems[0].Message, "the file value stays") {
		t.Errorf("owner %q, problems %v", snap.Doc.Config.Owner, snap.Problems)
	}
	if got := reportLines(f.m.Validate(ctx, snap, t0)); !strings.Contains(got, "Invalid override-ref edgeconf/v1/overrides/_base/owner: owner: cannot resolve") {
		t.Errorf("report:\n%s", got)
	}
}

func TestExport_WranglerBulk(t *testing.T) {
	f := newFixture(t, "")
	ctx := context.Background()
	mustSet(t, f, "features.premium.rolloutPercentage", 30, overrides.SetOptions{TTL: time.Hour})
	var buf bytes.Buffer
	if err := f.m.Export(ctx, &buf, overrides.ExportOptions{Format: "wrangler-bulk"}); err != nil {
		t.Fatal(err)
	}
	items, err := kvstore.ReadBulkFile(bytes.NewReader(buf.Bytes()))
	if err != nil || len(items) != 1 {
		t.Fatalf("export does not read back as a bulk file: %v\n%s", err, buf.String())
	}
	if items[0].Key != "edgeconf/v1/overrides/_base/features.premium.rolloutPercentage" || string(items[0].Value) != "30" || !strings.Contains(string(items[0].Options.Metadata), `"rev": 1`) {
		t.Errorf("exported item = %+v", items[0])
	}
	if !strings.Contains(buf.String(), `"expiration": 1780318800`) {
		t.Errorf("expiration missing:\n%s", buf.String())
	}
	if err := f.m.Export(ctx, &buf, overrides.ExportOptions{Format: "csv"}); err == nil {
		t.Error("unknown export format accepted")
	}
}

func TestSnapshot_GetDoesNotAllocate(t *testing.T) {
	f := newFixture(t, "")
	snap, err := f.m.Resolve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, ok := snap.Get("features.premium.rolloutPercentage"); !ok {
			panic("missing")
		}
	})
	if allocs != 0 {
		t.Errorf("Snapshot.Get allocates %.1f times per call, want 0", allocs)
	}
}

func TestTargetAndKeys(t *testing.T) {
	f := newFixture(t, "")
	if got := f.m.Target(); got != "memory" {
		t.Errorf("Target() = %q", got)
	}
	if got := overrides.OverrideKey("staging", "a.b"); got != "edgeconf/v1/overrides/staging/a.b" {
		t.Errorf("OverrideKey = %q", got)
	}
	re := &overrides.RefusedError{Path: "p", Findings: []report.Finding{{Path: "p", Message: "m"}}}
	if !strings.Contains(re.Error(), "override p refused:\n  p: m") {
		t.Errorf("RefusedError = %q", re.Error())
	}
}

// failing is a store whose listing fails, like an unreachable KV.
type failing struct{ kvstore.Store }

func (failing) List(context.Context, kvstore.ListOptions) (kvstore.ListResult, error) {
	return kvstore.ListResult{}, errors.New("store down")
}

func mustSet(t *testing.T, f *fixture, path string, v any, o overrides.SetOptions) {
	t.Helper()
	if _, err := f.m.Set(context.Background(), path, v, o); err != nil {
		t.Fatalf("Set(%s): %v", path, err)
	}
}

func mustPut(t *testing.T, s kvstore.Store, k, v string) {
	t.Helper()
	if err := s.Put(context.Background(), k, []byte(v), kvstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

func mustPutRaw(t *testing.T, s kvstore.Store, k, v string) {
	t.Helper()
	md, _ := json.Marshal(overrides.Metadata{SetBy: "raw", Rev: 1})
	if err := s.Put(context.Background(), k, []byte(v), kvstore.PutOptions{Metadata: md}); err != nil {
		t.Fatal(err)
	}
}

func reportLines(r *report.Report) string {
	var b strings.Builder
	for _, e := range r.Config {
		for _, f := range e.Findings {
			fmt.Fprintf(&b, "%s %s %s\n", f.Severity, f.Rule, f.String())
		}
	}
	return b.String()
}

// A resolve that finds what the last-known-good copy already holds does not
// write it again; the copy counts as confirmed at that time, so its age is
// measured from the last confirmation. A change is written.
func TestResolve_LastKnownGoodUnchangedIsConfirmedNotRewritten(t *testing.T) {
	f := newFixture(t, "")
	ctx := context.Background()
	mustSet(t, f, "owner", "team-a", overrides.SetOptions{})
	if _, err := f.m.Resolve(ctx); err != nil {
		t.Fatal(err)
	}
	first, err := os.Stat(f.lkg)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := os.ReadFile(f.lkg)

	*f.now = f.now.Add(10 * time.Minute)
	if _, err := f.m.Resolve(ctx); err != nil {
		t.Fatal(err)
	}
	second, err := os.Stat(f.lkg)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(first, second) {
		t.Error("an unchanged configuration was written again (the copy was replaced)")
	}
	if b, _ := os.ReadFile(f.lkg); !bytes.Equal(b, body) {
		t.Errorf("the unchanged copy's content changed:\n%s\nwas\n%s", b, body)
	}
	confirmed := t0.Add(10 * time.Minute)
	broken := overrides.New(overrides.Options{Store: failing{f.store}, Doc: loadSeed(t, ""), Now: func() time.Time { return confirmed.Add(time.Hour) }, LKGPath: f.lkg})
	snap, err := broken.Resolve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if age := snap.Age(confirmed.Add(time.Hour)); age != time.Hour {
		t.Errorf("age of the copy = %v, want 1h (since it was last confirmed)", age)
	}

	*f.now = f.now.Add(time.Minute)
	mustSet(t, f, "owner", "team-b", overrides.SetOptions{})
	if _, err := f.m.Resolve(ctx); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(f.lkg); !bytes.Contains(b, []byte(`"owner": "team-b"`)) {
		t.Errorf("a changed configuration was not written:\n%s", b)
	}
}

type refusing struct{ kvstore.Store }

func (refusing) List(context.Context, kvstore.ListOptions) (kvstore.ListResult, error) {
	return kvstore.ListResult{}, fmt.Errorf("cloudflare: 403 Forbidden: %w", kvstore.ErrAccessDenied)
}

// TestResolve_RefusedTokenDoesNotFallBack: the last-known-good copy rides
// out outages, not a wrong token: a refused token is an error to fix.
func TestResolve_RefusedTokenDoesNotFallBack(t *testing.T) {
	f := newFixture(t, "")
	ctx := context.Background()
	mustSet(t, f, "owner", "team-a", overrides.SetOptions{})
	if _, err := f.m.Resolve(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(f.lkg); err != nil {
		t.Fatalf("no last-known-good copy: %v", err)
	}
	m := overrides.New(overrides.Options{Store: refusing{f.store}, Doc: loadSeed(t, ""), LKGPath: f.lkg})
	snap, err := m.Resolve(ctx)
	if !errors.Is(err, kvstore.ErrAccessDenied) || !strings.Contains(err.Error(), "token was refused") {
		t.Fatalf("Resolve with a refused token = %v, %v; want the refusal, not the saved copy", snap, err)
	}
}
