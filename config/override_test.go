package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/factory-wager/edgeconf/config"
)

func TestDocument_CheckPath(t *testing.T) {
	doc := seedDoc(t, "")
	tests := []struct{ path, canon, err string }{
		{"features.premium.rolloutPercentage", "features.premium.rolloutPercentage", ""},
		{"features.brandNew.enabled", "features.brandNew.enabled", ""},
		{"cloudflare.kvNamespaces.0.id", "cloudflare.kvNamespaces[0].id", ""},
		{"cloudflare.vars.NEW_VAR", "cloudflare.vars.NEW_VAR", ""},
		{"", "", "give a dotted path"},
		{"ports.http", "", `ports has no key "http"`},
		{"cloudflare.kvNamespaces[5].id", "", "list of 1; index \"5\" does not exist"},
		{"domain.sub", "", "is a single value"},
	}
	for _, tc := range tests {
		canon, err := doc.CheckPath(tc.path)
		if tc.err != "" {
			if !errors.Is(err, config.ErrNoSuchPath) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("CheckPath(%q) = %v, want ErrNoSuchPath containing %q", tc.path, err, tc.err)
			}
			continue
		}
		if err != nil || canon != tc.canon {
			t.Errorf("CheckPath(%q) = %q, %v; want %q", tc.path, canon, err, tc.canon)
		}
	}
}

func TestDocument_Apply(t *testing.T) {
	doc := seedDoc(t, "staging")
	src := config.Source{Layer: config.LayerKV, Key: "k", SetBy: "alice"}
	out, problems := doc.Apply([]config.Override{
		{Path: "features.premium.rolloutPercentage", Value: 50.0, Source: src},
		{Path: "features.darkMode", Value: map[string]any{"enabled": true, "rolloutPercentage": 5.0, "allowedUsers": []any{"zed"}}, Source: src},
		{Path: "cloudflare.routes", Value: []any{map[string]any{"pattern": "a.factory-wager.com/*"}, map[string]any{"pattern": "b.factory-wager.com/*"}}, Source: src},
		{Path: "cloudflare.kvNamespaces[0].id", Value: "0123456789abcdef0123456789abcdef", Source: src},
		{Path: "monitoring.newThing", Value: 1.0, Source: src},
		{Path: "ports.main", Value: "eighty", Source: src},
		{Path: "owner", Value: nil, Source: src},
	})
	if len(problems) != 3 {
		t.Fatalf("problems = %v, want 3 (unknown path, wrong type, null)", problems)
	}
	for i, want := range []string{`has no key "newThing"`, `expected a whole number, got "eighty"`, "null is not a value"} {
		if !strings.Contains(problems[i].Error(), want) || problems[i].Pos.File != "k" {
			t.Errorf("problem %d = %v, want %q located at the KV key", i, problems[i], want)
		}
	}
	c := out.Config
	dark := c.Features["darkMode"]
	if c.Features["premium"].RolloutPercentage != 50 || !dark.IsAllowed("zed") || len(c.Cloudflare.Routes) != 2 ||
		c.Cloudflare.KVNamespaces[0].ID != "0123456789abcdef0123456789abcdef" || c.Ports.Main != 8091 || c.Owner != "platform-team" {
		t.Errorf("applied config = %+v", c)
	}
	if doc.Config.Features["premium"].RolloutPercentage != 25 || len(doc.Config.Cloudflare.Routes) != 1 {
		t.Error("Apply changed the original document")
	}
	if s := out.Source("cloudflare.routes[1].pattern"); s.Layer != config.LayerKV || s.SetBy != "alice" {
		t.Errorf("Source of a value inside an override = %+v", s)
	}
	sh := out.Shadowed("cloudflare.worker.name")
	if len(sh) != 1 {
		t.Errorf("an untouched value keeps its shadows: %+v", sh)
	}
	if sh := out.Shadowed("features.premium.rolloutPercentage"); len(sh) != 1 || sh[0].Layer != config.LayerFile || sh[0].Pos.Line != 10 {
		t.Errorf("Shadowed(overridden) = %+v, want the file value at line 10", sh)
	}
	idx := out.Index()
	if v, ok := idx["cloudflare.routes[1].pattern"]; !ok || v.String() != "b.factory-wager.com/*" {
		t.Errorf("Index()[routes[1].pattern] = %v, %v", v, ok)
	}
	if _, ok := idx[""]; !ok {
		t.Error("Index() lacks the root")
	}
	if r := config.Validate(out, config.ValidateOptions{Now: testNow}); r.Failed(false) {
		t.Errorf("the applied config is Invalid:\n%s", findingLines(r))
	}
}

func TestDocument_ApplyOnEmptyDocument(t *testing.T) {
	doc, _ := parse(t, "domain: [\n", config.LoadOptions{})
	out, problems := doc.Apply([]config.Override{{Path: "domain", Value: "example.com"}})
	if len(problems) != 0 || out.Config.Domain != "example.com" {
		t.Errorf("Apply on an undecodable file: %v, domain %q", problems, out.Config.Domain)
	}
	if s := out.Source("domain"); s.Layer != config.LayerKV {
		t.Errorf("an override without a layer defaults to kv: %+v", s)
	}
}
