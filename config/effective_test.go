package config_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/factory-wager/edgeconf/config"
)

func seedDoc(t *testing.T, env string) *config.Document {
	t.Helper()
	doc, err := config.Load("testdata/valid/seed.yaml", config.LoadOptions{Env: env, LookupEnv: lookupTestEnv})
	if err != nil {
		t.Fatalf("Load seed: %v", err)
	}
	return doc
}

func TestDocument_Lookup(t *testing.T) {
	doc := seedDoc(t, "")
	tests := []struct {
		path, canon, want, wantErr string
	}{
		{"domain", "domain", "factory-wager.com", ""},
		{"features.premium.rolloutPercentage", "features.premium.rolloutPercentage", "25", ""},
		{"cloudflare.kvNamespaces[0].binding", "cloudflare.kvNamespaces[0].binding", "CONFIG", ""},
		{"cloudflare.kvNamespaces.0.title", "cloudflare.kvNamespaces[0].title", "quantum-config", ""},
		{"ports", "ports", "{main: 8091, compliance: 3001, dashboard: 3000}", ""},
		{"nope", "", "", `"(top level)" has no key "nope"`},
		{"cloudflare.kvNamespaces[3]", "", "", "is a list of 1, index \"3\" is out of range"},
		{"domain.x", "", "", `"domain" is a single value`},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			canon, v, err := doc.Lookup(tc.path)
			if tc.wantErr != "" {
				if !errors.Is(err, config.ErrNoSuchPath) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Lookup(%q) error = %v, want ErrNoSuchPath containing %q", tc.path, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if canon != tc.canon || v.String() != tc.want {
				t.Errorf("Lookup(%q) = %q, %q; want %q, %q", tc.path, canon, v.String(), tc.canon, tc.want)
			}
		})
	}
}

func TestValue_Marshal(t *testing.T) {
	doc := seedDoc(t, "")
	_, v, err := doc.Lookup("features.premium")
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	// Keys keep schema order, not alphabetical order.
	if want := `{"enabled":true,"rolloutPercentage":25,"allowedUsers":["alice@factory-wager.com"]}`; string(js) != want {
		t.Errorf("JSON = %s, want %s", js, want)
	}
	y, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(y), "enabled: true\nrolloutPercentage: 25\n") {
		t.Errorf("YAML = %q", y)
	}
	m, ok := v.Interface().(map[string]any)
	if !ok || m["enabled"] != true {
		t.Errorf("Interface() = %#v", v.Interface())
	}
	_, all, _ := doc.Lookup("")
	if js, err := json.Marshal(all); err != nil || !json.Valid(js) || !strings.HasPrefix(string(js), `{"owner":"platform-team","domain":`) {
		t.Errorf("whole config JSON = %.80s (err %v)", js, err)
	}
}

func TestDocument_Leaves(t *testing.T) {
	doc := seedDoc(t, "staging")
	leaves := doc.Leaves("cloudflare.worker")
	var paths []string
	for _, l := range leaves {
		paths = append(paths, l.Path+"="+l.Value.String()+"@"+l.Source.Layer)
	}
	want := "cloudflare.worker.name=quantum-dashboard-staging@environment:staging," +
		"cloudflare.worker.main=worker/index.js@file," +
		"cloudflare.worker.compatibilityDate=2025-01-01@file," +
		"cloudflare.worker.compatibilityFlags=[]@default"
	if got := strings.Join(paths, ","); got != want {
		t.Errorf("Leaves =\n%s\nwant\n%s", got, want)
	}
	if got := doc.Leaves("no.such"); got != nil {
		t.Errorf("Leaves(no.such) = %v, want nil", got)
	}
	if n := len(doc.Leaves("")); n < 40 {
		t.Errorf("Leaves(\"\") has %d leaves, want the whole config", n)
	}
}

func TestDocument_Explain(t *testing.T) {
	doc := seedDoc(t, "staging")
	e, err := doc.Explain("cloudflare.worker.name")
	if err != nil {
		t.Fatal(err)
	}
	if e.Source.Layer != "environment:staging" || len(e.Shadowed) != 1 || e.Shadowed[0].Layer != "file" {
		t.Errorf("Explain(worker.name) = %+v, want staging shadowing file", e)
	}
	e, err = doc.Explain("ports.main")
	if err != nil {
		t.Fatal(err)
	}
	if e.Source.Layer != "file" || len(e.Shadowed) != 1 || e.Shadowed[0].Layer != "default" {
		t.Errorf("Explain(ports.main) = %+v, want file shadowing the default", e)
	}
	e, err = doc.Explain("monitoring.errorTracking")
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Shadowed) != 0 {
		t.Errorf("errorTracking false shadows %+v; a zero default is not a layer worth naming", e.Shadowed)
	}
	if _, err := doc.Explain("nope"); !errors.Is(err, config.ErrNoSuchPath) {
		t.Errorf("Explain(nope) = %v", err)
	}
	if got := doc.Pos("cloudflare.worker.name.x").Line; got != 41 {
		t.Errorf("Pos of a path below a scalar = line %d, want its nearest ancestor's (41)", got)
	}
	if got := doc.Pos("bogus"); got.Line != 0 || got.File == "" {
		t.Errorf("Pos(bogus) = %+v, want the file alone", got)
	}
}

func TestDocument_RedactsProxyPassword(t *testing.T) {
	doc, err := parse(t, minimal+"proxy: { url: \"http://jane:hunter2@proxy.corp:3128\" }\n", config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if doc.Config.Proxy.URL != "http://jane:hunter2@proxy.corp:3128" {
		t.Fatal("the typed config must keep the real URL for clients")
	}
	_, all, _ := doc.Lookup("")
	js, _ := json.Marshal(all)
	if strings.Contains(string(js), "hunter2") {
		t.Errorf("effective config shows the proxy password: %s", js)
	}
	for _, l := range doc.Leaves("proxy") {
		if strings.Contains(l.Value.String(), "hunter2") {
			t.Errorf("leaf %s shows the password", l.Path)
		}
	}
	if got := config.RedactURL("http://a b@c"); strings.Contains(got, "a b") {
		t.Errorf("RedactURL(unparseable with @) = %q", got)
	}
	if got := config.RedactURL(""); got != "" {
		t.Errorf("RedactURL(\"\") = %q", got)
	}
}
