package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixtureProfile is what `go test -coverprofile` wrote for testdata/mod, with
// funclit's literal marked as run.
const fixtureProfile = `mode: set
example.com/fixture/fixture.go:4.17,4.29 1 1
example.com/fixture/cmd/tool/main.go:3.13,3.32 1 0
example.com/fixture/funclit/funclit.go:4.20,4.32 1 1
example.com/fixture/lib/lib.go:4.24,5.11 1 1
example.com/fixture/lib/lib.go:5.11,7.3 1 0
example.com/fixture/lib/lib.go:8.2,8.14 1 1
example.com/fixture/notests/notests.go:4.14,7.2 2 0
example.com/fixture/typesonly/types.go:10.19,10.20 0 0
`

func TestParseProfile(t *testing.T) {
	tests := []struct {
		name    string
		profile string
		want    map[string]counts
		wantErr string
	}{
		{
			name:    "fixture",
			profile: fixtureProfile,
			want: map[string]counts{
				"example.com/fixture":           {statements: 1, covered: 1},
				"example.com/fixture/cmd/tool":  {statements: 1, covered: 0},
				"example.com/fixture/funclit":   {statements: 1, covered: 1},
				"example.com/fixture/lib":       {statements: 3, covered: 2},
				"example.com/fixture/notests":   {statements: 2, covered: 0},
				"example.com/fixture/typesonly": {statements: 0, covered: 0},
			},
		},
		{
			name: "repeated blocks count once, covered if any run covered them",
			profile: "mode: atomic\n" +
				"m/p/a.go:1.1,2.2 3 0\n" +
				"m/p/a.go:1.1,2.2 3 5\n" +
				"m/p/a.go:3.1,4.2 2 0\n" +
				"m/p/a.go:3.1,4.2 2 0\n" +
				"\n" +
				"m/p/b.go:1.1,2.2 1 1\n",
			want: map[string]counts{"m/p": {statements: 6, covered: 4}},
		},
		{name: "header only", profile: "mode: count\n", want: map[string]counts{}},
		{name: "empty", profile: "", wantErr: "empty profile"},
		{name: "no header", profile: "m/p/a.go:1.1,2.2 1 1\n", wantErr: "line 1"},
		{name: "too few fields", profile: "mode: set\nm/p/a.go:1.1,2.2 1\n", wantErr: "line 2"},
		{name: "no file name", profile: "mode: set\n:1.1,2.2 1 1\n", wantErr: "no file name"},
		{name: "no colon", profile: "mode: set\nm/p/a.go 1 1\n", wantErr: "no file name"},
		{name: "bad statement count", profile: "mode: set\nm/p/a.go:1.1,2.2 x 1\n", wantErr: "statement count"},
		{name: "negative statement count", profile: "mode: set\nm/p/a.go:1.1,2.2 -1 1\n", wantErr: "statement count"},
		{name: "bad execution count", profile: "mode: set\nm/p/a.go:1.1,2.2 1 -1\n", wantErr: "execution count"},
		{name: "line too long", profile: "mode: set\n" + strings.Repeat("x", 2<<20) + "\n", wantErr: "too long"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseProfile(strings.NewReader(tc.profile))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseProfile() error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseProfile() error = %v", err)
			}
			if len(got) != len(tc.want) {
				t.Errorf("parseProfile() has %d packages, want %d", len(got), len(tc.want))
			}
			for p, want := range tc.want {
				if c := got[p]; c == nil || *c != want {
					t.Errorf("parseProfile()[%q] = %+v, want %+v", p, c, want)
				}
			}
		})
	}
}

func TestGate_Excluded(t *testing.T) {
	g := gate{exclude: []string{"cmd/...", "examples/...", "internal/gen"}}
	tests := []struct {
		pkg  string
		want bool
	}{
		{"cmd", true},
		{"cmd/edgeconf", true},
		{"cmd/edgeconf/internal/x", true},
		{"examples/worker", true},
		{"internal/gen", true},
		{"internal/gen/sub", false},
		{"cmdline", false},
		{"config", false},
		{".", false},
	}
	for _, tc := range tests {
		if got := g.excluded(tc.pkg); got != tc.want {
			t.Errorf("excluded(%q) = %v, want %v", tc.pkg, got, tc.want)
		}
	}
}

func TestGate_Evaluate(t *testing.T) {
	mod := &struct{ Path string }{Path: "m"}
	typesOnly := filepath.Join("testdata", "mod", "typesonly")
	pkgs := []pkg{
		{ImportPath: "m/zeta", Module: mod, TestGoFiles: []string{"z_test.go"}},
		{ImportPath: "m", Module: mod, XTestGoFiles: []string{"m_test.go"}},
		{ImportPath: "m/low", Module: mod, TestGoFiles: []string{"l_test.go"}},
		{ImportPath: "m/notests", Module: mod},
		{ImportPath: "m/unlisted", Module: mod, Dir: "does-not-exist", GoFiles: []string{"u.go"}},
		{ImportPath: "m/broken", Module: mod, Error: &struct{ Err string }{Err: "syntax error\nmore"}},
		{ImportPath: "m/typesonly", Module: mod, Dir: typesOnly, GoFiles: []string{"types.go"}},
		{ImportPath: "m/zerostmts", Module: mod},
		{ImportPath: "m/cmd/tool", Module: mod},
		{ImportPath: "m/cmd/empty", Module: mod},
		{ImportPath: "other/nomodule"},
	}
	cov := map[string]*counts{
		"m/zeta":         {statements: 1000, covered: 850},
		"m":              {statements: 2000, covered: 1699}, // 84.95 % prints as 85.0 %: passes
		"m/low":          {statements: 1000, covered: 849},
		"m/notests":      {statements: 10, covered: 0},
		"m/zerostmts":    {statements: 0},
		"m/cmd/tool":     {statements: 4, covered: 1},
		"other/nomodule": {statements: 1, covered: 1},
	}
	g := gate{min: 85, exclude: []string{"cmd/..."}}
	want := []row{
		{pkg: ".", statements: 2000, covered: 1699, percent: 85, measured: true, pass: true, result: "ok"},
		{pkg: "broken", measured: true, result: "FAIL: package does not load: syntax error"},
		{pkg: "cmd/empty", pass: true, result: "skipped: excluded"},
		{pkg: "cmd/tool", statements: 4, covered: 1, percent: 25, measured: true, pass: true, result: "skipped: excluded"},
		{pkg: "low", statements: 1000, covered: 849, percent: 84.9, measured: true, result: "FAIL: below 85.0%"},
		{pkg: "notests", statements: 10, measured: true, result: "FAIL: no test files"},
		{pkg: "other/nomodule", statements: 1, covered: 1, percent: 100, measured: true, pass: true, result: "ok"},
		{pkg: "typesonly", pass: true, result: "ok: no statements"},
		{pkg: "unlisted", measured: true, result: "FAIL: not in the profile (did it build?)"},
		{pkg: "zerostmts", pass: true, result: "ok: no statements"},
		{pkg: "zeta", statements: 1000, covered: 850, percent: 85, measured: true, pass: true, result: "ok"},
	}
	got := g.evaluate(pkgs, cov)
	if len(got) != len(want) {
		t.Fatalf("evaluate() returned %d rows, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("evaluate() row %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestHasStatements(t *testing.T) {
	dir := filepath.Join("testdata", "mod")
	tests := []struct {
		name string
		p    pkg
		want bool
	}{
		{"types, constants and an empty method", pkg{Dir: filepath.Join(dir, "typesonly"), GoFiles: []string{"types.go"}}, false},
		{"statement in a function literal", pkg{Dir: filepath.Join(dir, "funclit"), GoFiles: []string{"funclit.go"}}, true},
		{"statements in a function", pkg{Dir: filepath.Join(dir, "lib"), GoFiles: []string{"lib.go"}}, true},
		{"cgo files count", pkg{Dir: dir, CgoFiles: []string{"fixture.go"}}, true},
		{"no files", pkg{Dir: dir}, false},
		{"unreadable file counts as statements", pkg{Dir: dir, GoFiles: []string{"missing.go"}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := hasStatements(tc.p); got != tc.want {
				t.Errorf("hasStatements(%v) = %v, want %v", tc.p.GoFiles, got, tc.want)
			}
		})
	}
}

func TestDecodePackages_Malformed(t *testing.T) {
	if _, err := decodePackages(strings.NewReader(`{"ImportPath": "a"} {`)); err == nil {
		t.Fatal("decodePackages(malformed) succeeded, want an error")
	}
}

func TestSplitList(t *testing.T) {
	got := splitList(" cmd/... ,, examples/...,")
	if strings.Join(got, "|") != "cmd/...|examples/..." {
		t.Errorf("splitList() = %q, want [cmd/... examples/...]", got)
	}
	if got := splitList(""); got != nil {
		t.Errorf("splitList(\"\") = %q, want nil", got)
	}
}

func TestRun(t *testing.T) {
	profile := filepath.Join(t.TempDir(), "coverage.out")
	if err := os.WriteFile(profile, []byte(fixtureProfile), 0o644); err != nil {
		t.Fatal(err)
	}
	badProfile := filepath.Join(t.TempDir(), "bad.out")
	if err := os.WriteFile(badProfile, []byte("not a profile\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mod := filepath.Join("testdata", "mod")
	emptyModule := t.TempDir()
	if err := os.WriteFile(filepath.Join(emptyModule, "go.mod"), []byte("module empty\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantOut    []string // substrings of stdout
		wantErrOut string   // substring of stderr
	}{
		{
			name:     "fixture fails on lib and notests",
			args:     []string{"-profile", profile, "-C", mod},
			wantCode: 1,
			wantOut: []string{
				"PACKAGE    STATEMENTS   COVERED  COVERAGE  RESULT\n",
				".                   1         1    100.0%  ok\n",
				"cmd/tool            1         0      0.0%  skipped: excluded\n",
				"lib                 3         2     66.7%  FAIL: below 85.0%\n",
				"notests             2         0      0.0%  FAIL: no test files\n",
				"typesonly           0         0         -  ok: no statements\n",
				"coverage gate: FAIL: 2 of 5 library packages below 85.0%: lib, notests\n",
			},
		},
		{
			name:     "lower minimum and excluded package pass",
			args:     []string{"-profile", profile, "-C", mod, "-min", "60", "-exclude", "cmd/...,notests", "./..."},
			wantCode: 0,
			wantOut:  []string{"coverage gate: PASS: all 4 library packages at or above 60.0%\n"},
		},
		{
			name:     "package pattern limits the table",
			args:     []string{"-profile", profile, "-C", mod, "./lib"},
			wantCode: 1,
			wantOut:  []string{"coverage gate: FAIL: 1 of 1 library packages below 85.0%: lib\n"},
		},
		{name: "help", args: []string{"-h"}, wantCode: 0, wantErrOut: "usage: covergate"},
		{name: "unknown flag", args: []string{"-nope"}, wantCode: 2, wantErrOut: "usage: covergate"},
		{name: "minimum out of range", args: []string{"-min", "101"}, wantCode: 2, wantErrOut: "outside 0..100"},
		{name: "missing profile", args: []string{"-profile", filepath.Join(t.TempDir(), "none.out")}, wantCode: 2, wantErrOut: "none.out"},
		{name: "bad profile", args: []string{"-profile", badProfile}, wantCode: 2, wantErrOut: "not a coverage profile header"},
		{
			name:     "pattern outside a module is a failing row",
			args:     []string{"-profile", profile, "-C", t.TempDir(), "./..."},
			wantCode: 1,
			wantOut:  []string{"./...  ", "FAIL: package does not load: pattern ./...: "},
		},
		{name: "no packages", args: []string{"-profile", profile, "-C", emptyModule}, wantCode: 2, wantErrOut: "no packages match ./..."},
		{
			name:       "go list fails",
			args:       []string{"-profile", profile, "-C", filepath.Join(t.TempDir(), "missing"), "./..."},
			wantCode:   2,
			wantErrOut: "go list ./...",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			if code != tc.wantCode {
				t.Errorf("run(%q) = %d, want %d\nstdout:\n%s\nstderr:\n%s", tc.args, code, tc.wantCode, &stdout, &stderr)
			}
			for _, want := range tc.wantOut {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("run(%q) stdout does not contain %q:\n%s", tc.args, want, &stdout)
				}
			}
			if !strings.Contains(stderr.String(), tc.wantErrOut) {
				t.Errorf("run(%q) stderr does not contain %q:\n%s", tc.args, tc.wantErrOut, &stderr)
			}
		})
	}
}
