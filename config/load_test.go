package config_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/factory-wager/edgeconf/config"
)

func parse(t *testing.T, src string, opts config.LoadOptions) (*config.Document, error) {
	t.Helper()
	return config.Parse(strings.NewReader(src), opts)
}

const minimal = `owner: team
domain: example.com
cloudflare:
  worker: { name: app, main: index.js, compatibilityDate: "2025-01-01" }
`

func TestParse_Defaults(t *testing.T) {
	doc, err := parse(t, minimal, config.LoadOptions{})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	c := doc.Config
	if c.Ports != (config.PortConfig{Main: 8091, Compliance: 3001, Dashboard: 3000}) {
		t.Errorf("Ports = %+v, want the defaults", c.Ports)
	}
	if !c.SSL.AutoManaged || c.SSL.Enabled {
		t.Errorf("SSL = %+v, want enabled false, autoManaged true", c.SSL)
	}
	if got := c.Dependencies.Thresholds; got != (config.DependencyThresholds{Refresh: 60, Warning: 300, Critical: 900}) {
		t.Errorf("Thresholds = %+v", got)
	}
	if got := doc.Source("ports.main"); got.Layer != config.LayerDefault {
		t.Errorf("Source(ports.main) = %+v, want the default layer", got)
	}
	if got := doc.Source("domain"); got.Layer != config.LayerFile || got.Pos.String() != "<input>:2:9" {
		t.Errorf("Source(domain) = %+v, want file at <input>:2:9", got)
	}
}

func TestParse_NullKeepsDefault(t *testing.T) {
	doc, err := parse(t, minimal+"ports:\n  main: ~\n  dashboard: 4000\n", config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if doc.Config.Ports.Main != 8091 || doc.Config.Ports.Dashboard != 4000 {
		t.Errorf("Ports = %+v, want main 8091 (default) and dashboard 4000", doc.Config.Ports)
	}
}

func TestParse_Interpolation(t *testing.T) {
	env := map[string]string{"PORT": "9000", "EMPTY": "", "NAME": "app-x"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		name    string
		src     string
		path    string
		want    string
		wantErr string
	}{
		{"plain var re-typed as number", "ports:\n  main: ${PORT}", "ports.main", "9000", ""},
		{"quoted var in flow style fills a number", `ports: { main: "${PORT}" }`, "ports.main", "9000", ""},
		{"quoted var fills a bool", `ssl: { enabled: "${NOPE:-true}" }`, "ssl.enabled", "true", ""},
		{"quoted non-number still refused", `ports: { main: "${NAME}" }`, "", "", `ports.main: expected a whole number, got "app-x"`},
		{"default when unset", "ports:\n  main: ${NOPE:-8123}", "ports.main", "8123", ""},
		{"default when empty", "owner: ${EMPTY:-fallback}", "owner", "fallback", ""},
		{"empty without default stays empty", "owner: x${EMPTY}y", "owner", "xy", ""},
		{"empty default is an empty string", "owner: ${NOPE:-}", "owner", "", ""},
		{"dollar escape", "owner: cost $$5", "owner", "cost $5", ""},
		{"lone dollar kept", "owner: a$b", "owner", "a$b", ""},
		{"inside text", "owner: team-${NAME}-1", "owner", "team-app-x-1", ""},
		{"quoted stays a string", `owner: "${PORT}"`, "owner", "9000", ""},
		{"missing var", "owner: ${NOPE}", "", "", "<input>:1:8: owner: environment variable NOPE is not set"},
		{"bad name", "owner: ${9X}", "", "", `"9X" is not a variable name`},
		{"unterminated", "owner: ${NOPE", "", "", "unterminated ${"},
		{"keys are not expanded", "${PORT}: 1", "", "", `unknown key "${PORT}"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := parse(t, tc.src, config.LoadOptions{LookupEnv: lookup})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Parse(%q) error = %v, want it to contain %q", tc.src, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.src, err)
			}
			_, v, err := doc.Lookup(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if got := v.String(); got != tc.want {
				t.Errorf("%s = %q, want %q", tc.path, got, tc.want)
			}
		})
	}
}

func TestLoad_DotEnv(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cloudflare-config.yaml")
	writeFile(t, path, "owner: ${OWNER}\ndomain: ${DOMAIN}\n")
	writeFile(t, filepath.Join(dir, ".env"), "OWNER=from-dotenv\nDOMAIN=dotenv.example.com\n")
	real := func(k string) (string, bool) {
		if k == "DOMAIN" {
			return "real.example.com", true
		}
		return "", false
	}
	doc, err := config.Load(path, config.LoadOptions{LookupEnv: real})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if doc.Config.Owner != "from-dotenv" {
		t.Errorf("Owner = %q, want the .env value", doc.Config.Owner)
	}
	if doc.Config.Domain != "real.example.com" {
		t.Errorf("Domain = %q, want the real environment to win over .env", doc.Config.Domain)
	}
	if doc.Dir() != dir {
		t.Errorf("Dir() = %q, want %q", doc.Dir(), dir)
	}
}

func TestLoad_BadDotEnv(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	writeFile(t, path, minimal)
	if err := os.Mkdir(filepath.Join(dir, ".env"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(path, config.LoadOptions{}); err == nil || !strings.Contains(err.Error(), ".env") {
		t.Errorf("Load with an unreadable .env: err = %v, want one naming .env", err)
	}
}

func TestLoad_Missing(t *testing.T) {
	_, err := config.Load(filepath.Join(t.TempDir(), "nope.yaml"), config.LoadOptions{})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want fs.ErrNotExist", err)
	}
}

func TestParse_MaxBytes(t *testing.T) {
	src := minimal + strings.Repeat("# padding\n", 20)
	_, err := parse(t, src, config.LoadOptions{MaxBytes: 100})
	var ps config.Problems
	if !errors.As(err, &ps) || len(ps) != 1 || ps[0].Rule != "size-limit" || !strings.Contains(ps[0].Message, "100 B limit") {
		t.Fatalf("Parse over MaxBytes = %v, want one size-limit problem naming 100 B", err)
	}
	if _, err := parse(t, src, config.LoadOptions{MaxBytes: int64(len(src))}); err != nil {
		t.Errorf("Parse at exactly MaxBytes = %v, want success", err)
	}
}

func TestParse_ReadError(t *testing.T) {
	_, err := config.Parse(errReader{}, config.LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("Parse(failing reader) = %v, want the read error", err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("boom") }

const withEnvs = minimal + `  kvNamespaces: [ { binding: CONFIG, title: base }, { binding: OTHER, title: other } ]
  vars: { LOG_LEVEL: info, REGION: eu }
  environments:
    staging:
      worker: { name: app-staging }
      kvNamespaces: [ { binding: CONFIG, title: staging } ]
      vars: { LOG_LEVEL: debug }
    empty: ~
`

func TestParse_EnvironmentMerge(t *testing.T) {
	doc, err := parse(t, withEnvs, config.LoadOptions{Env: "staging"})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	cf := doc.Config.Cloudflare
	if cf.Worker.Name != "app-staging" || cf.Worker.Main != "index.js" {
		t.Errorf("Worker = %+v, want name from staging and main from the base (maps merge)", cf.Worker)
	}
	if len(cf.KVNamespaces) != 1 || cf.KVNamespaces[0].Title != "staging" {
		t.Errorf("KVNamespaces = %+v, want the staging list alone (lists replace)", cf.KVNamespaces)
	}
	if cf.Vars["LOG_LEVEL"] != "debug" || cf.Vars["REGION"] != "eu" {
		t.Errorf("Vars = %v, want LOG_LEVEL from staging and REGION from the base", cf.Vars)
	}
	src := doc.Source("cloudflare.worker.name")
	if src.Layer != config.EnvironmentLayer("staging") || src.Pos.Line != 9 {
		t.Errorf("Source(worker.name) = %+v, want environment:staging at line 9", src)
	}
	if got := doc.Source("cloudflare.worker.main"); got.Layer != config.LayerFile {
		t.Errorf("Source(worker.main) = %+v, want file", got)
	}
	sh := doc.Shadowed("cloudflare.worker.name")
	if len(sh) != 1 || sh[0].Layer != config.LayerFile || sh[0].Pos.Line != 4 {
		t.Errorf("Shadowed(worker.name) = %+v, want the file value at line 4", sh)
	}
	sh = doc.Shadowed("cloudflare.kvNamespaces[0].title")
	if len(sh) != 1 || sh[0].Pos.Line != 5 {
		t.Errorf("Shadowed(kvNamespaces[0].title) = %+v, want the replaced base list at line 5", sh)
	}
	if got := doc.Source("cloudflare.environments.staging.worker.name"); got.Layer != config.LayerFile {
		t.Errorf("the environment's own declaration is in layer %q, want file", got.Layer)
	}
	if got := doc.Environments(); strings.Join(got, ",") != "empty,staging" {
		t.Errorf("Environments() = %v", got)
	}
	if _, err := parse(t, withEnvs, config.LoadOptions{Env: "empty"}); err != nil {
		t.Errorf("an empty environment: %v", err)
	}
}

func TestParse_UnknownEnvironment(t *testing.T) {
	_, err := parse(t, withEnvs, config.LoadOptions{Env: "prod"})
	if !errors.Is(err, config.ErrUnknownEnvironment) || !strings.Contains(err.Error(), "empty, staging") {
		t.Errorf("Parse(env prod) = %v, want ErrUnknownEnvironment listing empty, staging", err)
	}
	_, err = parse(t, minimal, config.LoadOptions{Env: "prod"})
	if !errors.Is(err, config.ErrUnknownEnvironment) || !strings.Contains(err.Error(), "declares none") {
		t.Errorf("Parse(env prod, no environments) = %v, want ErrUnknownEnvironment saying none are declared", err)
	}
}

func TestParse_PartialDecodeOnProblems(t *testing.T) {
	doc, err := parse(t, minimal+"ports: { main: nope, dashboard: 4000 }\nbogus: 1\n", config.LoadOptions{})
	var ps config.Problems
	if !errors.As(err, &ps) || len(ps) != 2 {
		t.Fatalf("err = %v, want 2 problems", err)
	}
	if doc == nil || doc.Config.Ports.Dashboard != 4000 || doc.Config.Ports.Main != 8091 {
		t.Fatalf("doc = %+v, want the good values decoded and the bad one left at its default", doc)
	}
	if !ps.Invalid() {
		t.Error("Invalid() = false")
	}
	if len(ps.Unwrap()) != 2 || !strings.Contains(ps.Error(), "\n") {
		t.Errorf("Problems as an error: %q", ps.Error())
	}
}

func TestParse_FlagIndex(t *testing.T) {
	doc, err := parse(t, minimal+"features:\n  premium: { enabled: true, rolloutPercentage: 0, allowedUsers: [a, b] }\n", config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f := doc.Config.Features["premium"]
	if !f.IsAllowed("b") || f.IsAllowed("c") {
		t.Errorf("IsAllowed: b=%v c=%v, want true false", f.IsAllowed("b"), f.IsAllowed("c"))
	}
	var unindexed config.FeatureFlag
	unindexed.AllowedUsers = []string{"x"}
	if !unindexed.IsAllowed("x") || unindexed.IsAllowed("y") {
		t.Error("IsAllowed without Index must fall back to a scan")
	}
	unindexed.AllowedUsers = nil
	unindexed.Index()
	if unindexed.IsAllowed("x") {
		t.Error("IsAllowed after Index of an empty list")
	}
}

func TestParse_AliasesAndMergeKeys(t *testing.T) {
	src := minimal + `x-base: &base { enabled: true, rolloutPercentage: 5 }
x-extra: &extra { rolloutPercentage: 7, allowedUsers: [z] }
features:
  a: *base
  b: { <<: [*extra, *base], enabled: false }
`
	doc, err := parse(t, src, config.LoadOptions{})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	a, b := doc.Config.Features["a"], doc.Config.Features["b"]
	if !a.Enabled || a.RolloutPercentage != 5 {
		t.Errorf("a = %+v, want the anchor's values", a)
	}
	if b.Enabled || b.RolloutPercentage != 7 || !b.IsAllowed("z") {
		t.Errorf("b = %+v, want own enabled:false, then extra's 7 over base's 5", b)
	}
}

func TestParse_YAMLEdgeCases(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"non-string key", minimal + "[a]: 1\n", "keys must be plain names"},
		{"null document", "~\n", "empty"},
		{"deep nesting", strings.Repeat("[", 200) + strings.Repeat("]", 200), ""},
		{"scalar document", "hello\n", "must be a mapping"},
		{"flag wrong type", minimal + "features: [a]\n", "features: expected a mapping of names"},
		{"list item wrong type", minimal + "proxy: { noProxy: [[a]] }\n", "proxy.noProxy[0]: expected a string"},
		{"string field given a list", minimal + "proxy: { url: [a] }\n", "proxy.url: expected a string, got a list"},
		{"number field given a list", minimal + "ports: { main: [1] }\n", "expected a whole number, got a list"},
		{"NaN", minimal + "features: { a: { rolloutPercentage: .nan } }\n", "expected a number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := parse(t, tc.src, config.LoadOptions{})
			if doc == nil {
				t.Fatalf("Parse returned no document: %v", err)
			}
			if tc.want == "" {
				if err == nil {
					t.Fatal("want an error")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestProblem_Strings(t *testing.T) {
	p := config.Problem{Path: "a.b", Pos: config.Position{File: "f.yaml", Line: 3, Column: 4}, Message: "bad"}
	if got := p.Error(); got != "f.yaml:3:4: a.b: bad" {
		t.Errorf("Error() = %q", got)
	}
	if got := (config.Position{Line: 3}).String(); got != "3" {
		t.Errorf("Position{Line:3} = %q", got)
	}
	if got := (config.Problem{Message: "m"}).Error(); got != "m" {
		t.Errorf("bare problem = %q", got)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
