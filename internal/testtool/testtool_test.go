package testtool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeTB records Skipf and Fatalf instead of stopping the test, so the
// missing-tool paths of Require can be observed.
type fakeTB struct {
	testing.TB // nil: any other method panics, which would be a bug in Require
	skipped    string
	fatal      string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Skipf(format string, args ...any) { f.skipped = fmt.Sprintf(format, args...) }

func (f *fakeTB) Fatalf(format string, args ...any) { f.fatal = fmt.Sprintf(format, args...) }

const toolName = "edgeconf-testtool-fake"

// writeFile creates path (and its parents) with the given mode.
func writeFile(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\nexit 0\n"), mode); err != nil {
		t.Fatal(err)
	}
}

// sandbox returns a fresh directory tree root and makes an empty directory
// the whole PATH, so that only what a test puts in place can be found.
func sandbox(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	empty := filepath.Join(root, "empty-path")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", empty)
	t.Setenv("CI", "")
	return root
}

func TestFind(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]os.FileMode // relative to the sandbox root
		path  string                 // PATH, relative to the sandbox root; "" keeps the empty PATH
		wd    string                 // working directory, relative to the sandbox root
		want  string                 // found path relative to the sandbox root; "" means not found
	}{
		{
			name:  "in PATH",
			files: map[string]os.FileMode{"usr/bin/" + toolName: 0o755},
			path:  "usr/bin",
			wd:    ".",
			want:  "usr/bin/" + toolName,
		},
		{
			name:  "in the module's bin",
			files: map[string]os.FileMode{"repo/go.mod": 0o644, "repo/bin/" + toolName: 0o755},
			wd:    "repo/config/testdata",
			want:  "repo/bin/" + toolName,
		},
		{
			name: "in the module's tools/node_modules/.bin",
			files: map[string]os.FileMode{
				"repo/go.mod": 0o644,
				"repo/tools/node_modules/.bin/" + toolName: 0o755,
			},
			wd:   "repo/deploy",
			want: "repo/tools/node_modules/.bin/" + toolName,
		},
		{
			name: "bin wins over tools/node_modules/.bin",
			files: map[string]os.FileMode{
				"repo/go.mod":                              0o644,
				"repo/bin/" + toolName:                     0o755,
				"repo/tools/node_modules/.bin/" + toolName: 0o755,
			},
			wd:   "repo",
			want: "repo/bin/" + toolName,
		},
		{
			name: "the module's pinned tool wins over PATH",
			files: map[string]os.FileMode{
				"repo/go.mod":          0o644,
				"repo/bin/" + toolName: 0o755,
				"usr/bin/" + toolName:  0o755,
			},
			path: "usr/bin",
			wd:   "repo",
			want: "repo/bin/" + toolName,
		},
		{
			name: "nested module finds the outer module's tools",
			files: map[string]os.FileMode{
				"repo/go.mod":          0o644,
				"repo/bin/" + toolName: 0o755,
				"repo/bench/go.mod":    0o644,
			},
			wd:   "repo/bench/flags",
			want: "repo/bin/" + toolName,
		},
		{
			name: "nearest module wins",
			files: map[string]os.FileMode{
				"repo/go.mod":                0o644,
				"repo/bin/" + toolName:       0o755,
				"repo/bench/go.mod":          0o644,
				"repo/bench/bin/" + toolName: 0o755,
			},
			wd:   "repo/bench",
			want: "repo/bench/bin/" + toolName,
		},
		{
			name: "bin without go.mod is not a module root",
			files: map[string]os.FileMode{
				"repo/bin/" + toolName: 0o755,
			},
			wd: "repo",
		},
		{
			name: "a directory named go.mod is not a module root",
			files: map[string]os.FileMode{
				"repo/go.mod/keep":     0o644,
				"repo/bin/" + toolName: 0o755,
			},
			wd: "repo",
		},
		{
			name: "non-executable file is skipped for PATH",
			files: map[string]os.FileMode{
				"repo/go.mod":          0o644,
				"repo/bin/" + toolName: 0o644,
				"usr/bin/" + toolName:  0o755,
			},
			path: "usr/bin",
			wd:   "repo",
			want: "usr/bin/" + toolName,
		},
		{
			name:  "relative PATH entry is refused",
			files: map[string]os.FileMode{"usr/bin/" + toolName: 0o755},
			path:  "./usr/bin", // relative to the working directory, the sandbox root
			wd:    ".",
		},
		{
			name: "missing everywhere",
			wd:   ".",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := sandbox(t)
			for rel, mode := range tc.files {
				writeFile(t, filepath.Join(root, rel), mode)
			}
			if tc.path != "" {
				p := tc.path
				if !strings.HasPrefix(p, ".") {
					p = filepath.Join(root, p)
				}
				t.Setenv("PATH", p)
			}
			wd := filepath.Join(root, tc.wd)
			if err := os.MkdirAll(wd, 0o755); err != nil {
				t.Fatal(err)
			}
			t.Chdir(wd)

			got, err := Find(toolName)
			if tc.want == "" {
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("Find(%q) = %q, %v; want an error wrapping ErrNotFound", toolName, got, err)
				}
				return
			}
			if want := filepath.Join(root, tc.want); err != nil || got != want {
				t.Fatalf("Find(%q) = %q, %v; want %q", toolName, got, err, want)
			}
		})
	}
}

func TestFind_NotFoundMessageListsSearchedPlaces(t *testing.T) {
	root := sandbox(t)
	writeFile(t, filepath.Join(root, "repo", "go.mod"), 0o644)
	t.Chdir(filepath.Join(root, "repo"))

	_, err := Find(toolName)
	if err == nil {
		t.Fatalf("Find(%q) succeeded, want an error", toolName)
	}
	for _, want := range []string{
		toolName,
		filepath.Join(root, "repo", "bin"),
		filepath.Join(root, "repo", "tools", "node_modules", ".bin"),
		"PATH",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Find(%q) error = %q, want it to mention %q", toolName, err, want)
		}
	}
}

func TestFind_BadName(t *testing.T) {
	for _, name := range []string{"", "bin/wrangler", "/usr/bin/true"} {
		if got, err := Find(name); err == nil || errors.Is(err, ErrNotFound) {
			t.Errorf("Find(%q) = %q, %v; want a bad-name error", name, got, err)
		}
	}
}

func TestRequire_Found(t *testing.T) {
	root := sandbox(t)
	writeFile(t, filepath.Join(root, "repo", "go.mod"), 0o644)
	want := filepath.Join(root, "repo", "bin", toolName)
	writeFile(t, want, 0o755)
	t.Chdir(filepath.Join(root, "repo"))
	t.Setenv("CI", "true")

	// A real *testing.T: finding the tool must neither skip nor fail.
	if got := Require(t, toolName, "make tools"); got != want {
		t.Fatalf("Require(t, %q) = %q, want %q", toolName, got, want)
	}
}

func TestRequire_Missing(t *testing.T) {
	tests := []struct {
		name      string
		ci        string
		wantSkip  bool
		wantFatal bool
	}{
		{name: "local run skips", ci: "", wantSkip: true},
		{name: "CI=false skips", ci: "false", wantSkip: true},
		{name: "CI=1 skips, only CI=true fails", ci: "1", wantSkip: true},
		{name: "CI=true fails", ci: "true", wantFatal: true},
	}
	const install = "make tools  # npm ci in tools/"
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sandbox(t)
			t.Chdir(t.TempDir())
			t.Setenv("CI", tc.ci)

			tb := &fakeTB{}
			if got := Require(tb, toolName, install); got != "" {
				t.Errorf("Require(%q) = %q, want \"\"", toolName, got)
			}
			if (tb.skipped != "") != tc.wantSkip || (tb.fatal != "") != tc.wantFatal {
				t.Fatalf("Require(%q) with CI=%q: Skipf(%q), Fatalf(%q); want skip=%v fatal=%v",
					toolName, tc.ci, tb.skipped, tb.fatal, tc.wantSkip, tc.wantFatal)
			}
			msg := tb.skipped + tb.fatal
			for _, want := range []string{toolName, "install it with: " + install} {
				if !strings.Contains(msg, want) {
					t.Errorf("Require(%q) message %q does not mention %q", toolName, msg, want)
				}
			}
			if tc.wantFatal && !strings.Contains(msg, "CI=true") {
				t.Errorf("Require(%q) failure %q does not say why it is not a skip (CI=true)", toolName, msg)
			}
		})
	}
}
