package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
)

// pkg is what the gate needs to know of one package from `go list -json`.
type pkg struct {
	ImportPath   string
	Dir          string
	GoFiles      []string
	CgoFiles     []string
	TestGoFiles  []string
	XTestGoFiles []string
	Module       *struct{ Path string }
	Error        *struct{ Err string }
}

// relPath returns the import path relative to the module path: "." for the
// module's root package.
func (p pkg) relPath() string {
	if p.Module == nil {
		return p.ImportPath
	}
	if p.ImportPath == p.Module.Path {
		return "."
	}
	return strings.TrimPrefix(p.ImportPath, p.Module.Path+"/")
}

func (p pkg) hasTests() bool { return len(p.TestGoFiles)+len(p.XTestGoFiles) > 0 }

// listPackages runs `go list -e -json` in dir. Packages that fail to load are
// listed too (-e), so that a package that does not build is gated rather than
// forgotten.
func listPackages(dir string, patterns []string) ([]pkg, error) {
	cmd := exec.Command("go", append([]string{"list", "-e", "-json"}, patterns...)...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list %s: %w: %s", strings.Join(patterns, " "), err, strings.TrimSpace(stderr.String()))
	}
	return decodePackages(bytes.NewReader(out))
}

// decodePackages decodes the stream of JSON objects that `go list -json` prints.
func decodePackages(r io.Reader) ([]pkg, error) {
	dec := json.NewDecoder(r)
	var pkgs []pkg
	for {
		var p pkg
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			return pkgs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("decode go list output: %w", err)
		}
		pkgs = append(pkgs, p)
	}
}

// hasStatements reports whether the package's non-test files contain a
// statement that coverage would count: one inside a function body. A file
// that does not parse counts as having statements, so that it is gated.
func hasStatements(p pkg) bool {
	fset := token.NewFileSet()
	for _, name := range append(append([]string(nil), p.GoFiles...), p.CgoFiles...) {
		f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			return true
		}
		found := false
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncDecl:
				found = found || (n.Body != nil && len(n.Body.List) > 0)
			case *ast.FuncLit:
				found = found || len(n.Body.List) > 0
			}
			return !found
		})
		if found {
			return true
		}
	}
	return false
}
