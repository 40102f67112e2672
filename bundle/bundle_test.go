package bundle_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/factory-wager/edgeconf/bundle"
	"github.com/factory-wager/edgeconf/config"
)

func write(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBuild_ExampleIsDeterministicAndBakesConfig(t *testing.T) {
	doc, err := config.Load(filepath.Join("..", config.DefaultFile), config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	o, err := bundle.FromDocument(doc)
	if err != nil {
		t.Fatal(err)
	}
	o.Outdir = t.TempDir()
	a, err := bundle.Build(o)
	if err != nil {
		t.Fatal(err)
	}
	o.Outdir = t.TempDir()
	b, err := bundle.Build(o)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Script, b.Script) || !bytes.Equal(a.SourceMap, b.SourceMap) {
		t.Fatal("two builds of the same inputs differ")
	}
	if !bytes.Contains(a.Script, []byte(`"platform-team"`)) || !bytes.Contains(a.Script, []byte(a.Revision)) {
		t.Error("the configuration is not baked into the bundle")
	}
	if !bytes.Contains(a.Script, []byte("TerminalSession = class")) {
		t.Error("the bundle does not export TerminalSession")
	}
	if got, err := os.ReadFile(filepath.Join(o.Outdir, "index.js.map")); err != nil || !bytes.Equal(got, b.SourceMap) {
		t.Errorf("source map not written: %v", err)
	}
	if a.GzipSize <= 0 || a.GzipSize >= len(a.Script) {
		t.Errorf("gzip size %d of %d bytes", a.GzipSize, len(a.Script))
	}
	o.Minify = true
	m, err := bundle.Build(o)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Script) >= len(a.Script) {
		t.Errorf("minified %d bytes, not smaller than %d", len(m.Script), len(a.Script))
	}
	// Another configuration changes the revision.
	o.Config = []byte(`{"owner":"x"}`)
	c, err := bundle.Build(o)
	if err != nil {
		t.Fatal(err)
	}
	if c.Revision == a.Revision {
		t.Error("a different configuration kept the revision")
	}
}

func TestBuild_Errors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, src string
		bindings  []string
		want      string
	}{
		{"syntax", "export default {\n  fetch( {\n}", nil, "main.js:3:"},
		{"unresolved", "import x from './missing.js';\nexport default x;", nil, `main.js:1:15: Could not resolve "./missing.js"`},
		{"binding", "export default { fetch(r, env) { return env.CACHE.get('x'); } };", []string{"CONFIG"}, "main.js:1:45: the code uses binding env.CACHE"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			entry := write(t, dir, "main.js", c.src)
			_, err := bundle.Build(bundle.Options{Entry: entry, Config: []byte(`{}`), Bindings: c.bindings})
			var be *bundle.Error
			if !errors.As(err, &be) {
				t.Fatalf("err = %v, want a *bundle.Error", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
	_, err := bundle.Build(bundle.Options{Entry: filepath.Join(dir, "nope.js"), Config: []byte(`{}`)})
	if err == nil || !strings.Contains(err.Error(), "nope.js") {
		t.Errorf("missing entry: %v", err)
	}
}

func TestBuild_SizeLimits(t *testing.T) {
	dir := t.TempDir()
	// Random-looking text compresses badly: about 4 MiB gzip-compressed.
	var b strings.Builder
	b.WriteString("export const blob = \"")
	x := uint32(1)
	for b.Len() < 5<<20 {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b.WriteByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[x%64])
	}
	b.WriteString("\";\nexport default { fetch() { return new Response(blob); } };\n")
	entry := write(t, dir, "big.js", b.String())
	r, err := bundle.Build(bundle.Options{Entry: entry, Config: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	if r.GzipSize <= bundle.WarnSize || len(r.Warnings) == 0 || !strings.Contains(r.Warnings[len(r.Warnings)-1], "3 MiB") {
		t.Errorf("gzip %d, warnings %q: want the 3 MiB warning", r.GzipSize, r.Warnings)
	}
}

func TestFromDocument_NoMain(t *testing.T) {
	doc, err := config.Parse(strings.NewReader("owner: a\ndomain: example.com\n"), config.LoadOptions{})
	if err != nil && doc == nil {
		t.Fatal(err)
	}
	doc.Config.Cloudflare.Worker.Main = ""
	if _, err := bundle.FromDocument(doc); err == nil || !strings.Contains(err.Error(), "cloudflare.worker.main") {
		t.Errorf("err = %v", err)
	}
}
