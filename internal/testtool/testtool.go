// Package testtool finds the external programs that edgeconf's tests drive,
// such as wrangler, workerd, versitygw, squid, tinyproxy and chromium.
//
// A test asks for a tool by name together with the command that installs it:
//
//	wrangler := testtool.Require(t, "wrangler", "make tools  # npm ci in tools/")
//
// Require looks in the repository's pinned tool folders first — bin/ (Go tools
// installed by `make tools`) and tools/node_modules/.bin/ (npm packages pinned in
// tools/package-lock.json) of every enclosing module root — and then in PATH.
// When the tool is missing the test is skipped with the install command, except
// under CI (CI=true), where a missing tool is a failure: a green CI run must
// never hide a test that did not run.
package testtool

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ErrNotFound is wrapped by the error that [Find] returns for a missing tool.
var ErrNotFound = errors.New("tool not found")

// toolDirs are the folders, relative to a module root, where `make tools`
// installs programs.
var toolDirs = []string{
	"bin",
	filepath.Join("tools", "node_modules", ".bin"),
}

// Require returns the absolute path of the executable called name.
//
// When the tool cannot be found, Require skips the test with a message naming
// install, the command that provides the tool; when the environment variable CI
// is "true" it fails the test instead. With a testing.TB whose Skipf and Fatalf
// return (a fake), Require then returns "".
func Require(tb testing.TB, name, install string) string {
	tb.Helper()
	path, err := Find(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("%v; install it with: %s (CI=true: a missing tool fails the test instead of skipping it)", err, install)
		return ""
	}
	tb.Skipf("%v; install it with: %s", err, install)
	return ""
}

// Find returns the absolute path of the executable called name. It looks in
// bin/ and tools/node_modules/.bin/ of each directory from the working
// directory upwards that holds a go.mod, nearest first, and then in PATH.
// It returns an error wrapping [ErrNotFound] if the tool is in none of them.
func Find(name string) (string, error) {
	if name == "" || strings.ContainsRune(name, filepath.Separator) {
		return "", fmt.Errorf("tool name %q: must be a bare program name", name)
	}
	var searched []string
	if wd, err := os.Getwd(); err == nil {
		for _, root := range moduleRoots(wd) {
			for _, d := range toolDirs {
				dir := filepath.Join(root, d)
				searched = append(searched, dir)
				if p, err := exec.LookPath(filepath.Join(dir, name)); err == nil {
					return p, nil
				}
			}
		}
	}
	searched = append(searched, "PATH")
	// exec.LookPath refuses a match in a relative PATH entry (exec.ErrDot),
	// so what it returns without error is an absolute path.
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s: %w in %s", name, ErrNotFound, strings.Join(searched, ", "))
}

// moduleRoots returns dir and its ancestors that contain a go.mod file,
// nearest first. Nested modules (bench/ has its own go.mod) thereby also
// find the tools installed at the repository root.
func moduleRoots(dir string) []string {
	var roots []string
	for {
		if fi, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil && !fi.IsDir() {
			roots = append(roots, dir)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return roots
		}
		dir = parent
	}
}
