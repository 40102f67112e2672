package deploy

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/config"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

const (
	nsID = "0123456789abcdef0123456789abcdef"
	dbID = "3f2b6c1e-0000-4000-8000-000000000001"
)

func testSpec() Spec {
	return Spec{
		Worker: "app", Script: []byte("export default {}"),
		CompatibilityDate: "2026-01-01", CompatibilityFlags: []string{"nodejs_compat"},
		KV:      []config.KVNamespace{{Binding: "CONFIG", Title: "app-config"}},
		R2:      []config.R2Bucket{{Binding: "FILES", Bucket: "app-files"}},
		D1:      []config.D1Database{{Binding: "DB", Name: "app-db"}},
		DO:      []config.DurableObject{{Binding: "SESSIONS", ClassName: "TerminalSession"}},
		Vars:    map[string]string{"LOG_LEVEL": "info"},
		Secrets: []string{"DASHBOARD_TOKEN"},
		Routes:  []config.Route{{Pattern: "app.example.com/*"}, {Pattern: "dash.example.com", CustomDomain: true}},
		DNS:     []config.DNSRecord{{Type: "CNAME", Name: "app.example.com", Content: "app.workers.dev", Proxied: true}},
		Domain:  "example.com",
	}
}

// deployed is the State of an account where testSpec was deployed as it is.
func deployed(s Spec) State {
	live := cloudflare.Version{ID: "v1", Tag: s.CodeTag(), CompatibilityDate: s.CompatibilityDate, CompatibilityFlags: s.CompatibilityFlags,
		Bindings: append(s.Bindings(map[string]string{"app-config": nsID}, map[string]string{"app-db": dbID}),
			cloudflare.Binding{Type: "secret_text", Name: "DASHBOARD_TOKEN"})}
	return State{
		Namespaces: map[string]string{"app-config": nsID}, Buckets: map[string]bool{"app-files": true}, Databases: map[string]string{"app-db": dbID},
		Live: &live, LiveSplit: []cloudflare.Split{{VersionID: "v1", Percentage: 100}}, Secrets: []string{"DASHBOARD_TOKEN"},
		Zone:    cloudflare.Zone{ID: "z", Name: "example.com"},
		Routes:  []cloudflare.Route{{ID: "r1", Pattern: "app.example.com/*", Script: "app"}},
		Domains: []cloudflare.Domain{{ID: "d1", Hostname: "dash.example.com", Service: "app"}},
		DNS:     []cloudflare.DNSRecord{{ID: "rec1", Type: "CNAME", Name: "app.example.com", Content: "app.workers.dev", Proxied: true, TTL: 1, Comment: ownerComment("app")}},
	}
}

func find(p Plan, kind, name string) *Change {
	for i, c := range p.Changes {
		if c.Kind == kind && c.Name == name {
			return &p.Changes[i]
		}
	}
	return nil
}

func TestCompute(t *testing.T) {
	withSecret := PlanOptions{SecretAvailable: func(n string) bool { return n == "DASHBOARD_TOKEN" }}
	type want struct {
		kind, name  string
		action      Action
		destructive bool
		takeover    bool
	}
	cases := []struct {
		name     string
		state    func(Spec) State
		spec     func(*Spec)
		opts     PlanOptions
		changes  bool
		wants    []want
		problems int
		count    int // expected number of changes; -1 skips
	}{
		{
			name:  "first deploy to an empty account",
			state: func(Spec) State { return State{} },
			opts:  withSecret, changes: true, count: 10,
			wants: []want{
				{"kv_namespace", "app-config", Create, false, false}, {"r2_bucket", "app-files", Create, false, false},
				{"d1_database", "app-db", Create, false, false}, {"worker", "app", Create, false, false},
				{"code", "app", Create, false, false}, {"do_migration", "TerminalSession", Create, false, false},
				{"secret", "DASHBOARD_TOKEN", Create, false, false}, {"route", "app.example.com/*", Create, false, false},
				{"custom_domain", "dash.example.com", Create, false, false}, {"dns_record", "CNAME app.example.com", Create, false, false},
			},
		},
		{
			name: "a secret with no value anywhere is a problem", state: func(Spec) State { return State{} },
			changes: true, problems: 1, count: -1,
		},
		{
			name: "unchanged: only adoptions", state: deployed, changes: false, count: 3,
			wants: []want{{"kv_namespace", "app-config", Adopt, false, false}, {"r2_bucket", "app-files", Adopt, false, false}, {"d1_database", "app-db", Adopt, false, false}},
		},
		{
			name: "new code", state: deployed, spec: func(s *Spec) { s.Script = []byte("export default {v:2}") },
			changes: true, count: 4, wants: []want{{"code", "app", Update, false, false}},
		},
		{
			name: "compatibility and a var change, a var removed", state: deployed,
			spec: func(s *Spec) {
				s.CompatibilityDate, s.CompatibilityFlags = "2026-06-01", nil
				s.Vars = map[string]string{"MODE": "x"}
			},
			changes: true, count: 3 + 4,
			wants: []want{
				{"compatibility", "compatibility_date", Update, false, false}, {"compatibility", "compatibility_flags", Update, false, false},
				{"var", "MODE", Create, false, false}, {"var", "LOG_LEVEL", Delete, true, false},
			},
		},
		{
			name: "a binding and a class removed are destructive", state: deployed,
			spec:    func(s *Spec) { s.D1, s.DO = nil, nil },
			changes: true, count: 2 + 3,
			wants: []want{{"binding", "DB", Delete, true, false}, {"binding", "SESSIONS", Delete, true, false}, {"do_migration", "TerminalSession", Delete, true, false}},
		},
		{
			name: "a namespace id changed in the configuration", state: deployed,
			spec:    func(s *Spec) { s.KV[0].ID = "fedcba9876543210fedcba9876543210"; s.KV[0].Title = "other" },
			changes: true, count: 3,
			wants: []want{{"binding", "CONFIG", Update, false, false}},
		},
		{
			name: "routes, domains and records of someone else are takeovers", changes: true, count: -1,
			state: func(s Spec) State {
				st := deployed(s)
				st.Routes[0].Script = "other"
				st.Domains[0].Service = "other"
				st.DNS[0].Comment, st.DNS[0].Content = "", "elsewhere.example.net"
				return st
			},
			wants: []want{{"route", "app.example.com/*", Update, false, true}, {"custom_domain", "dash.example.com", Update, false, true}, {"dns_record", "CNAME app.example.com", Update, false, true}},
		},
		{
			name: "an identical record of someone else is adopted, not taken over", changes: false, count: 4,
			state: func(s Spec) State { st := deployed(s); st.DNS[0].Comment = ""; return st },
			wants: []want{{"dns_record", "CNAME app.example.com", Adopt, false, false}},
		},
		{
			name: "routes, domains and owned records no longer wanted are deleted", changes: true, count: 3 + 3,
			spec: func(s *Spec) { s.Routes, s.DNS = nil, nil },
			state: func(s Spec) State {
				st := deployed(testSpec())
				st.Live.Tag = s.CodeTag()
				return st
			},
			wants: []want{{"route", "app.example.com/*", Delete, true, false}, {"custom_domain", "dash.example.com", Delete, true, false}, {"dns_record", "CNAME app.example.com", Delete, true, false}},
		},
		{
			name: "a Worker not uploaded by edgeconf shows its code as changed", changes: true, count: 4,
			state: func(s Spec) State { st := deployed(s); st.Live.Tag = ""; return st },
			wants: []want{{"code", "app", Update, false, false}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := testSpec()
			if tc.spec != nil {
				tc.spec(&s)
			}
			p := Compute(s, tc.state(testSpec()), tc.opts)
			if p.HasChanges() != tc.changes {
				t.Errorf("HasChanges = %v, want %v: %+v", p.HasChanges(), tc.changes, p.Changes)
			}
			if tc.count >= 0 && len(p.Changes) != tc.count {
				t.Errorf("%d changes, want %d: %+v", len(p.Changes), tc.count, p.Changes)
			}
			if len(p.Problems) != tc.problems {
				t.Errorf("problems = %q, want %d", p.Problems, tc.problems)
			}
			for _, w := range tc.wants {
				c := find(p, w.kind, w.name)
				if c == nil {
					t.Errorf("no change for %s %s in %+v", w.kind, w.name, p.Changes)
					continue
				}
				if c.Action != w.action || c.Destructive != w.destructive || c.Takeover != w.takeover {
					t.Errorf("%s %s = %+v, want %s destructive=%v takeover=%v", w.kind, w.name, *c, w.action, w.destructive, w.takeover)
				}
			}
		})
	}
}

// TestCompute_Migration: the migration carries new and deleted classes.
func TestCompute_Migration(t *testing.T) {
	s := testSpec()
	p := Compute(s, State{}, PlanOptions{})
	if p.Migration == nil || strings.Join(p.Migration.NewSQLiteClasses, ",") != "TerminalSession" {
		t.Fatalf("first deploy migration = %+v", p.Migration)
	}
	if p := Compute(s, deployed(s), PlanOptions{}); p.Migration != nil {
		t.Fatalf("unchanged classes have a migration: %+v", p.Migration)
	}
	s2 := testSpec()
	s2.DO = []config.DurableObject{{Binding: "ROOMS", ClassName: "Room"}, {Binding: "OTHER", ClassName: "X", ScriptName: "elsewhere"}}
	p = Compute(s2, deployed(s), PlanOptions{})
	if p.Migration == nil || strings.Join(p.Migration.NewSQLiteClasses, ",") != "Room" || strings.Join(p.Migration.DeletedClasses, ",") != "TerminalSession" {
		t.Fatalf("migration = %+v", p.Migration)
	}
	if len(p.Destructive()) == 0 {
		t.Fatal("a deleted class is not destructive")
	}
}

// TestPlan_Golden: the text and JSON forms of a plan with every kind of
// line; a name with terminal escapes comes out escaped.
func TestPlan_Golden(t *testing.T) {
	s := testSpec()
	s.Script = []byte("export default {v:2}")
	s.Vars = map[string]string{"MODE": "x"}
	st := deployed(testSpec())
	st.Routes = append(st.Routes, cloudflare.Route{ID: "r2", Pattern: "old.example.com/*\x1b[2J", Script: "app"})
	st.DNS[0].Comment = ""
	st.DNS[0].Content = "elsewhere.example.net"
	p := Compute(s, st, PlanOptions{})
	var text, js bytes.Buffer
	if err := p.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := p.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text.String(), "\x1b") {
		t.Errorf("a control character reached the text plan:\n%s", text.String())
	}
	var back Plan
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Changes) != len(p.Changes) {
		t.Fatalf("JSON plan does not read back: %v", err)
	}
	golden(t, "plan.txt", text.Bytes())
	golden(t, "plan.json", js.Bytes())

	var none bytes.Buffer
	if err := Compute(testSpec(), deployed(testSpec()), PlanOptions{}).WriteText(&none); err != nil || !strings.Contains(none.String(), "no changes") {
		t.Fatalf("an unchanged plan says: %s (%v)", none.String(), err)
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./deploy -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestSpecFrom(t *testing.T) {
	doc, err := config.Parse(strings.NewReader(`
domain: example.com
cloudflare:
  worker: { name: app, main: index.js, compatibilityDate: "2026-01-01" }
  dns:
    - { type: CNAME, name: dash, content: app.workers.dev }
    - { type: A, name: "@", content: 192.0.2.1 }
    - { type: A, name: www.example.com., content: 192.0.2.1 }
`), config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := SpecFrom(doc, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range s.DNS {
		names = append(names, r.Name)
	}
	if got := strings.Join(names, ","); got != "dash.example.com,example.com,www.example.com" {
		t.Errorf("record names = %s", got)
	}
	if tag := s.CodeTag(); !strings.HasPrefix(tag, CodeTagPrefix) || len(tag) != cloudflare.MaxVersionTag {
		t.Errorf("code tag %q", tag)
	}
	if _, err := SpecFrom(doc, nil); err == nil {
		t.Error("an empty script was accepted")
	}
	doc.Config.Cloudflare.Worker.Name = ""
	if _, err := SpecFrom(doc, []byte("x")); err == nil || !strings.Contains(err.Error(), "cloudflare.worker.name") {
		t.Errorf("no worker name: %v", err)
	}
}
