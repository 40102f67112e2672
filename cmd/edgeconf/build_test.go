package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// buildProject writes a configuration and a Worker entry in a temp folder.
func buildProject(t *testing.T, js string) string {
	t.Helper()
	dir := t.TempDir()
	src, err := os.ReadFile(wranglerTestConfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cloudflare-config.yaml"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	if js != "" {
		if err := os.MkdirAll(filepath.Join(dir, "src"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "src", "index.js"), []byte(js), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestBuildCLI(t *testing.T) {
	const good = "import cfg from 'edgeconf:config';\nexport default { async fetch(req, env) { return Response.json({ rev: cfg.revision, v: await env.CONFIG.get('k') }); } };\nexport class TerminalSession {}\n"
	for _, tc := range []struct {
		name, js string
		args     []string
		code     int
		want     *regexp.Regexp // in stdout+stderr
		files    []string
	}{
		{"builds index.js and its map", good, nil, 0, regexp.MustCompile(`built .*dist/index.js \(\d+ bytes`), []string{"dist/index.js", "dist/index.js.map"}},
		{"--env and --outdir", good, []string{"--env", "staging", "--outdir", "out/staging"}, 0, regexp.MustCompile(`out/staging/index.js`), []string{"out/staging/index.js"}},
		{"syntax error names file:line:col", "export default {\n  fetch( {\n};\n", nil, 1, regexp.MustCompile(`src/index.js:3:\d+: `), nil},
		{"unresolved import", "import x from './nope.js';\nexport default x;\n", nil, 1, regexp.MustCompile(`src/index.js:1:\d+: .*nope.js`), nil},
		{"binding the config lacks", "export default { fetch(r, env) { return env.MISSING.get('x'); } };\n", nil, 1, regexp.MustCompile(`MISSING`), nil},
		{"missing entry module", "", nil, 1, regexp.MustCompile(`src/index.js`), nil},
		{"unknown environment", good, []string{"--env", "nope"}, 2, regexp.MustCompile(`nope`), nil},
		{"stray argument", good, []string{"extra"}, 2, regexp.MustCompile(`extra`), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := buildProject(t, tc.js)
			t.Chdir(dir)
			args := append([]string{"build", "-c", filepath.Join(dir, "cloudflare-config.yaml")}, tc.args...)
			code, stdout, stderr := runCLI(t, nil, args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.code, stdout, stderr)
			}
			if !tc.want.MatchString(stdout + stderr) {
				t.Errorf("output does not match %s:\n%s%s", tc.want, stdout, stderr)
			}
			for _, f := range tc.files {
				b, err := os.ReadFile(filepath.Join(dir, f))
				if err != nil || len(b) == 0 {
					t.Errorf("%s: %v (%d bytes)", f, err, len(b))
				}
			}
			if tc.code != 0 && strings.Contains(stderr, "goroutine") {
				t.Errorf("a stack trace leaked:\n%s", stderr)
			}
		})
	}
}
