package wrangler

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/internal/testtool"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const testConfig = "testdata/cloudflare-config.yaml"

func noEnv(string) (string, bool) { return "", false }

func generate(t *testing.T, o GenerateOptions) []byte {
	t.Helper()
	if o.ConfigPath == "" {
		o.ConfigPath = testConfig
	}
	o.LookupEnv = noEnv
	out, err := Generate(o)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return out
}

func TestGenerate_Golden(t *testing.T) {
	for _, tc := range []struct {
		name, golden string
		o            GenerateOptions
	}{
		{"toml all environments", "golden-wrangler.toml", GenerateOptions{}},
		{"jsonc all environments", "golden-wrangler.jsonc", GenerateOptions{Format: JSONC}},
		{"toml staging only", "golden-wrangler-staging.toml", GenerateOptions{Env: "staging"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := generate(t, tc.o)
			path := filepath.Join("testdata", tc.golden)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./wrangler -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("generate differs from %s:\n%s", path, got)
			}
		})
	}
}

func TestGenerate_NoSecretValuesAndHeader(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(testConfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "cloudflare-config.yaml")
	if err := os.WriteFile(cfg, src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".dev.vars"), []byte("DASHBOARD_TOKEN=s3cr3t-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lookup := func(n string) (string, bool) {
		if n == "DASHBOARD_TOKEN" {
			return "s3cr3t-value", true
		}
		return "", false
	}
	out, err := Generate(GenerateOptions{ConfigPath: cfg, LookupEnv: lookup})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte("s3cr3t")) {
		t.Errorf("generated file holds a secret value:\n%s", out)
	}
	if !bytes.HasPrefix(out, []byte("# "+Header)) {
		t.Errorf("no generated-file header:\n%s", out)
	}
	if !bytes.Contains(out, []byte("DASHBOARD_TOKEN")) {
		t.Errorf("secret name not listed")
	}
}

func TestGenerate_Errors(t *testing.T) {
	if _, err := Generate(GenerateOptions{ConfigPath: "testdata/missing.yaml", LookupEnv: noEnv}); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Generate(GenerateOptions{ConfigPath: testConfig, Format: "yaml"}); err == nil || !strings.Contains(err.Error(), "yaml") {
		t.Errorf("bad format: %v", err)
	}
	if _, err := Generate(GenerateOptions{ConfigPath: testConfig, Env: "nope", LookupEnv: noEnv}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown env: %v", err)
	}
	if _, err := ParseFormat("jsonc"); err != nil {
		t.Error(err)
	}
}

// normalize drops what wrangler cannot carry (DNS) so a round trip can be
// compared with the source.
func normalize(c config.CloudflareConfig) config.CloudflareConfig {
	c.DNS = nil
	for n, e := range c.Environments {
		e.DNS = nil
		c.Environments[n] = e
	}
	return c
}

func TestRoundTrip(t *testing.T) {
	doc, err := config.Load(testConfig, config.LoadOptions{LookupEnv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	want := normalize(doc.Config.Cloudflare)
	for _, f := range []Format{TOML, JSONC} {
		t.Run(string(f), func(t *testing.T) {
			gen := generate(t, GenerateOptions{Format: f})
			im, err := Import("wrangler."+string(f), gen)
			if err != nil {
				t.Fatal(err)
			}
			if len(im.Unmapped) != 0 {
				t.Errorf("unmapped: %v", im.Unmapped)
			}
			got := normalize(im.Cloudflare)
			if !reflect.DeepEqual(got.CloudflareSettings, want.CloudflareSettings) {
				t.Errorf("base settings:\n got %+v\nwant %+v", got.CloudflareSettings, want.CloudflareSettings)
			}
			// Environments compare by their merged result: that is what deploys.
			for _, env := range doc.Environments() {
				d2, err := config.Load(testConfig, config.LoadOptions{Env: env, LookupEnv: noEnv})
				if err != nil {
					t.Fatal(err)
				}
				y, err := im.YAML()
				if err != nil {
					t.Fatal(err)
				}
				merged := reloadWith(t, y, env)
				if !reflect.DeepEqual(normalize(merged).CloudflareSettings, normalize(d2.Config.Cloudflare).CloudflareSettings) {
					t.Errorf("env %s:\n got %+v\nwant %+v", env, merged.CloudflareSettings, d2.Config.Cloudflare.CloudflareSettings)
				}
			}
			// generate → import → generate is a fixed point.
			y, err := im.YAML()
			if err != nil {
				t.Fatal(err)
			}
			dir := writeConfig(t, y)
			again, err := Generate(GenerateOptions{ConfigPath: filepath.Join(dir, "cloudflare-config.yaml"), Format: f, OutputDir: filepath.Dir(testConfig), LookupEnv: noEnv})
			if err != nil {
				t.Fatal(err)
			}
			// The DNS note is the one line the import cannot bring back.
			if string(dropDNS(again)) != string(dropDNS(fixDist(gen, dir))) {
				t.Errorf("not a fixed point:\nfirst:\n%s\nagain:\n%s", gen, again)
			}
		})
	}
}

func dropDNS(b []byte) []byte {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.Contains(l, "DNS records") {
			out = append(out, l)
		}
	}
	return []byte(strings.Join(out, "\n"))
}

// fixDist rewrites the testdata bundle paths to those of a config in dir.
func fixDist(b []byte, dir string) []byte {
	abs, _ := filepath.Abs("testdata")
	rel, _ := filepath.Rel(abs, dir)
	return bytes.ReplaceAll(b, []byte(`"dist/`), []byte(`"`+filepath.ToSlash(rel)+`/dist/`))
}

// writeConfig writes the top of testdata's configuration (everything but
// the cloudflare section) with the imported section in a temp folder.
func writeConfig(t *testing.T, section []byte) string {
	t.Helper()
	src, err := os.ReadFile(testConfig)
	if err != nil {
		t.Fatal(err)
	}
	head := string(src)[:strings.Index(string(src), "cloudflare:")]
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cloudflare-config.yaml"), append([]byte(head), section...), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func reloadWith(t *testing.T, section []byte, env string) config.CloudflareConfig {
	t.Helper()
	dir := writeConfig(t, section)
	doc, err := config.Load(filepath.Join(dir, "cloudflare-config.yaml"), config.LoadOptions{Env: env, LookupEnv: noEnv})
	if err != nil {
		t.Fatalf("load the imported section: %v\n%s", err, section)
	}
	return doc.Config.Cloudflare
}

func TestImport_NamesWhatItCannotCarry(t *testing.T) {
	in := `// a hand-written file
{
  "name": "w", "main": "src/index.ts", "compatibility_date": "2025-01-01",
  "triggers": { "crons": ["*/5 * * * *"] },
  "vars": { "A": "1", "B": "2" },
  "version_metadata": { "binding": "VM" },
  "env": { "dev": { "name": "w-dev", "main": "src/index.ts", "vars": { "A": "3" }, "tail_consumers": [], }, },
}`
	im, err := Import("wrangler.jsonc", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"env.dev.tail_consumers",
		"env.dev.vars.B (absent here but set at the top level: edgeconf environments cannot remove a var)",
		"triggers",
		`version_metadata.binding ("VM": the Worker reads CF_VERSION_METADATA)`,
	}
	if !reflect.DeepEqual(im.Unmapped, want) {
		t.Errorf("unmapped:\n got %q\nwant %q", im.Unmapped, want)
	}
	if im.Cloudflare.Worker.Main != "src/index.ts" || im.Cloudflare.Environments["dev"].Vars["A"] != "3" {
		t.Errorf("imported %+v", im.Cloudflare)
	}
	y, err := im.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(y, []byte("# not carried over: triggers")) {
		t.Errorf("yaml does not name the unmapped keys:\n%s", y)
	}
}

func TestImport_BadInput(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"wrangler.toml", "name = ", "wrangler.toml"},
		{"wrangler.jsonc", "{", "wrangler.jsonc"},
		{"wrangler.json", `{"name": 3}`, "wrangler.json"},
		{"wrangler.toml", strings.Repeat("#", MaxFileBytes+1), "size limit"},
	} {
		if _, err := Import(tc.name, []byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %.20q: err %v, want it to name %q", tc.name, tc.in, err, tc.want)
		}
	}
}

func FuzzImport(f *testing.F) {
	for _, g := range []string{"golden-wrangler.toml", "golden-wrangler.jsonc"} {
		b, err := os.ReadFile(filepath.Join("testdata", g))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, strings.HasSuffix(g, ".toml"))
	}
	f.Add([]byte(`{"env":{"x":1}}`), false)
	f.Fuzz(func(t *testing.T, data []byte, isTOML bool) {
		name := "wrangler.jsonc"
		if isTOML {
			name = "wrangler.toml"
		}
		im, err := Import(name, data)
		if err != nil {
			return
		}
		if _, err := im.YAML(); err != nil {
			t.Fatalf("imported but cannot render: %v", err)
		}
	})
}

// TestWranglerAcceptsGenerated runs the pinned wrangler's deploy --dry-run
// on the generated file, for every environment, and checks it lists the
// bindings.
func TestWranglerAcceptsGenerated(t *testing.T) {
	bin := testtool.Require(t, "wrangler", "make tools")
	for _, cfgPath := range []string{testConfig, "../cloudflare-config.yaml"} {
		doc, err := config.Load(cfgPath, config.LoadOptions{LookupEnv: noEnv})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []Format{TOML, JSONC} {
			dir := t.TempDir()
			name := filepath.Join(dir, "wrangler."+string(f))
			out, err := Generate(GenerateOptions{ConfigPath: cfgPath, Format: f, OutputDir: dir, LookupEnv: noEnv})
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(name, out, 0o644); err != nil {
				t.Fatal(err)
			}
			cfgDir, _ := filepath.Abs(filepath.Dir(cfgPath))
			for _, env := range append([]string{""}, doc.Environments()...) {
				// A stand-in for edgeconf build's bundle at the path main names.
				dist := filepath.Join(dir, "bundles", env)
				if err := os.MkdirAll(dist, 0o755); err != nil {
					t.Fatal(err)
				}
				js := filepath.Join(dist, "index.js")
				if err := os.WriteFile(js, []byte("export default { fetch() { return new Response('ok') } };\nexport class TerminalSession {}\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				rel, _ := filepath.Rel(dir, js)
				distRel, _ := filepath.Rel(dir, filepath.Join(cfgDir, "dist", env, "index.js"))
				text := strings.ReplaceAll(string(out), `"`+filepath.ToSlash(distRel)+`"`, `"`+filepath.ToSlash(rel)+`"`)
				if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
				cmd := exec.Command(bin, "deploy", "--dry-run", "--config", name, "--env", env, "--outdir", filepath.Join(dir, "out"))
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), "WRANGLER_SEND_METRICS=false", "NO_COLOR=1", "CI=true")
				got, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("%s --env %q: wrangler refused it: %v\n%s\n%s", cfgPath, env, err, got, text)
				}
				d, err := config.Load(cfgPath, config.LoadOptions{Env: env, LookupEnv: noEnv})
				if err != nil {
					t.Fatal(err)
				}
				cf := d.Config.Cloudflare
				var want []string
				for _, k := range cf.KVNamespaces {
					want = append(want, "env."+k.Binding)
				}
				for _, r := range cf.R2Buckets {
					want = append(want, "env."+r.Binding+" ("+r.Bucket+")")
				}
				for _, x := range cf.D1Databases {
					want = append(want, "env."+x.Binding+" ("+x.Name+")")
				}
				for _, x := range cf.DurableObjects {
					want = append(want, "env."+x.Binding)
				}
				for k, v := range cf.Vars {
					want = append(want, "env."+k+` ("`+v+`")`)
				}
				want = append(want, "env."+VersionMetadataBinding)
				for _, w := range want {
					if !strings.Contains(string(got), w) {
						t.Errorf("%s %s --env %q: wrangler does not list %s:\n%s", cfgPath, f, env, w, got)
					}
				}
			}
		}
	}
}
