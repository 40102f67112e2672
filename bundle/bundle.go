// Package bundle builds the Worker: it bundles cloudflare.worker.main with
// esbuild's Go API into one ES module plus a source map, with the effective
// file configuration of one environment baked in as the module
// "edgeconf:config". No Node.js is involved. It is the only importer of
// github.com/evanw/esbuild.
package bundle

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/evanw/esbuild/pkg/api"

	"github.com/factory-wager/edgeconf/web"
)

// Workers limits on the gzip-compressed bundle.
const (
	WarnSize = 3 << 20  // the Free plan's limit: a warning above it
	MaxSize  = 10 << 20 // the Paid plan's limit: an error above it
)

// ConfigModule is the import path the Worker reads its baked configuration from.
const ConfigModule = "edgeconf:config"

// AssetsModule is the import path of the dashboard's files (package web),
// so that the deployed Worker serves the same dashboard as edgeconf serve:
// a JSON object of URL path → {type, body}.
const AssetsModule = "edgeconf:assets"

// Baked is what the Worker finds in ConfigModule.
type Baked struct {
	Env            string          `json:"env"`
	Revision       string          `json:"revision"` // sha256 of Config, 12 hex digits
	RefreshSeconds float64         `json:"refreshSeconds"`
	Config         json.RawMessage `json:"config"`
}

// Options configures Build. Entry and Config are required.
type Options struct {
	Entry          string          // the Worker's entry module (cloudflare.worker.main, resolved)
	Outdir         string          // where index.js and index.js.map go; "" builds in memory only
	Env            string          // the environment baked in
	Config         json.RawMessage // the effective file configuration, JSON
	RefreshSeconds float64         // how long the Worker caches KV overrides
	Minify         bool
	Bindings       []string     // binding names the configuration defines; nil skips the check
	Logger         *slog.Logger // optional
}

// Result is a finished build.
type Result struct {
	Script, SourceMap []byte
	ScriptPath        string // "" when Outdir was ""
	GzipSize          int
	Revision          string
	Warnings          []string // "file:line:col: message"
}

// Error is a failed build: each message is "file:line:col: message".
type Error struct{ Messages []string }

func (e *Error) Error() string { return "build failed:\n  " + strings.Join(e.Messages, "\n  ") }

// ErrTooLarge is returned (wrapped) when the gzip size is over MaxSize.
var ErrTooLarge = errors.New("bundle over the Workers size limit")

// Build bundles o.Entry. The same inputs give byte-identical output.
func Build(o Options) (*Result, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	entry, err := filepath.Abs(o.Entry)
	if err != nil {
		return nil, fmt.Errorf("entry %s: %w", o.Entry, err)
	}
	if _, err := os.Stat(entry); err != nil {
		return nil, fmt.Errorf("entry module %s (cloudflare.worker.main): %w", o.Entry, err)
	}
	sum := sha256.Sum256(o.Config)
	rev := hex.EncodeToString(sum[:])[:12]
	baked, err := json.Marshal(Baked{Env: o.Env, Revision: rev, RefreshSeconds: o.RefreshSeconds, Config: o.Config})
	if err != nil {
		return nil, fmt.Errorf("encode the baked configuration: %w", err)
	}
	dir := filepath.Dir(entry)
	outdir := o.Outdir
	if outdir == "" {
		outdir = filepath.Join(dir, "dist")
	}
	outdir, err = filepath.Abs(outdir)
	if err != nil {
		return nil, err
	}
	assets, err := assetsJSON()
	if err != nil {
		return nil, err
	}
	plugin := api.Plugin{Name: "edgeconf-config", Setup: func(b api.PluginBuild) {
		b.OnResolve(api.OnResolveOptions{Filter: "^" + regexp.QuoteMeta(ConfigModule) + "$"}, func(a api.OnResolveArgs) (api.OnResolveResult, error) {
			return api.OnResolveResult{Path: "config.json", Namespace: "edgeconf"}, nil
		})
		b.OnResolve(api.OnResolveOptions{Filter: "^" + regexp.QuoteMeta(AssetsModule) + "$"}, func(a api.OnResolveArgs) (api.OnResolveResult, error) {
			return api.OnResolveResult{Path: "assets.json", Namespace: "edgeconf"}, nil
		})
		b.OnLoad(api.OnLoadOptions{Filter: ".*", Namespace: "edgeconf"}, func(a api.OnLoadArgs) (api.OnLoadResult, error) {
			s := string(baked)
			if a.Path == "assets.json" {
				s = string(assets)
			}
			return api.OnLoadResult{Contents: &s, Loader: api.LoaderJSON}, nil
		})
	}}
	res := api.Build(api.BuildOptions{
		EntryPoints:       []string{entry},
		Bundle:            true,
		Format:            api.FormatESModule,
		Platform:          api.PlatformNeutral,
		Target:            api.ES2022,
		Conditions:        []string{"workerd", "worker", "browser"},
		MainFields:        []string{"module", "main"},
		Outfile:           filepath.Join(outdir, "index.js"),
		AbsWorkingDir:     dir,
		Sourcemap:         api.SourceMapLinked,
		MinifyWhitespace:  o.Minify,
		MinifyIdentifiers: o.Minify,
		MinifySyntax:      o.Minify,
		Write:             false,
		LogLevel:          api.LogLevelSilent,
		Metafile:          true,
		External:          []string{"cloudflare:*", "node:*"},
		Plugins:           []api.Plugin{plugin},
	})
	if len(res.Errors) > 0 {
		return nil, &Error{Messages: messages(res.Errors, filepath.Dir(o.Entry))}
	}
	r := &Result{Revision: rev, Warnings: messages(res.Warnings, filepath.Dir(o.Entry))}
	for _, f := range res.OutputFiles {
		switch {
		case strings.HasSuffix(f.Path, ".map"):
			r.SourceMap = f.Contents
		case strings.HasSuffix(f.Path, ".js"):
			r.Script = f.Contents
		}
	}
	if o.Bindings != nil {
		if msgs := checkBindings(res.Metafile, dir, o.Bindings); len(msgs) > 0 {
			return nil, &Error{Messages: msgs}
		}
	}
	r.GzipSize = gzipSize(r.Script)
	if r.GzipSize > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes gzip-compressed, over the 10 MiB limit of the Workers Paid plan", ErrTooLarge, r.GzipSize)
	}
	if r.GzipSize > WarnSize {
		r.Warnings = append(r.Warnings, fmt.Sprintf("%s: %d bytes gzip-compressed, over the 3 MiB limit of the Workers Free plan", o.Entry, r.GzipSize))
	}
	if o.Outdir != "" {
		if err := os.MkdirAll(outdir, 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", outdir, err)
		}
		r.ScriptPath = filepath.Join(outdir, "index.js")
		if err := os.WriteFile(r.ScriptPath, r.Script, 0o644); err != nil {
			return nil, fmt.Errorf("write %s: %w", r.ScriptPath, err)
		}
		if err := os.WriteFile(r.ScriptPath+".map", r.SourceMap, 0o644); err != nil {
			return nil, fmt.Errorf("write %s.map: %w", r.ScriptPath, err)
		}
	}
	o.Logger.Debug("bundled", "entry", o.Entry, "bytes", len(r.Script), "gzip", r.GzipSize)
	return r, nil
}

// messages formats esbuild's messages as file:line:col: text, the file
// named as the entry was (esbuild names it relative to the entry's folder).
func messages(ms []api.Message, entryDir string) []string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		if m.Location == nil {
			out = append(out, m.Text)
			continue
		}
		file := m.Location.File
		if !filepath.IsAbs(file) && entryDir != "" {
			file = filepath.Join(entryDir, file)
		}
		out = append(out, fmt.Sprintf("%s:%d:%d: %s", file, m.Location.Line, m.Location.Column+1, m.Text))
	}
	return out
}

func gzipSize(b []byte) int {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Len()
}

// envUse finds env.NAME uses of an upper-case binding name. It is
// compiled on first use, not at package init (issue 12).
var envUse = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\benv\.([A-Z][A-Z0-9_]*)\b`) })

// checkBindings names every env.NAME the sources use that the
// configuration does not bind, with its position.
func checkBindings(metafile, dir string, bindings []string) []string {
	var meta struct {
		Inputs map[string]json.RawMessage `json:"inputs"`
	}
	if err := json.Unmarshal([]byte(metafile), &meta); err != nil {
		return nil
	}
	have := map[string]bool{}
	for _, b := range append(bindings, OptionalBindings...) {
		have[b] = true
	}
	files := make([]string, 0, len(meta.Inputs))
	for f := range meta.Inputs {
		if !strings.Contains(f, ":") && !strings.Contains(f, "node_modules") {
			files = append(files, f)
		}
	}
	sort.Strings(files)
	var out []string
	for _, f := range files {
		src, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			continue
		}
		for i, line := range strings.Split(string(src), "\n") {
			for _, m := range envUse().FindAllStringSubmatchIndex(line, -1) {
				name := line[m[2]:m[3]]
				if !have[name] {
					out = append(out, fmt.Sprintf("%s:%d:%d: the code uses binding env.%s, which the configuration does not define", f, i+1, m[2]+1, name))
				}
			}
		}
	}
	return out
}

// assetType returns the content type of a dashboard file by its
// extension, or "" for a file the dashboard does not serve.
func assetType(ext string) string {
	switch ext {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".png":
		return "image/png"
	}
	return ""
}

// assetsJSON is the AssetsModule: every file of web.Assets() by URL path
// ("/" is index.html).
func assetsJSON() ([]byte, error) {
	type asset struct {
		Type string `json:"type"`
		Body string `json:"body"`
	}
	out := map[string]asset{}
	err := fs.WalkDir(web.Assets(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(web.Assets(), p)
		if err != nil {
			return err
		}
		typ := assetType(path.Ext(p))
		if typ == "" {
			return nil // only what the dashboard serves
		}
		out["/"+p] = asset{Type: typ, Body: string(b)}
		if p == "index.html" {
			out["/"] = out["/"+p]
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("the dashboard's files: %w", err)
	}
	return json.Marshal(out)
}
