package edgeconf_test

import (
	"bytes"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/factory-wager/edgeconf"
	"github.com/factory-wager/edgeconf/config"
)

// TestPackageDocs fails when a package of the module has no package doc
// comment (the check Tailscale keeps).
func TestPackageDocs(t *testing.T) {
	dirs := map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules" || d.Name() == "bench" || d.Name() == "tools") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			dirs[filepath.Dir(path)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for dir := range dirs {
		fset := token.NewFileSet()
		pkgs, err := parser.ParseDir(fset, dir, func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for name, pkg := range pkgs {
			documented := false
			for _, f := range pkg.Files {
				if f.Doc != nil && strings.HasPrefix(f.Doc.Text(), "Package "+name+" ") || name == "main" && f.Doc != nil && strings.HasPrefix(f.Doc.Text(), "Command ") {
					documented = true
				}
			}
			if !documented {
				t.Errorf("package %s (%s) has no \"// Package %s ...\" doc comment", name, dir, name)
			}
		}
	}
}

// TestExampleConfig keeps the embedded example equal to the file and valid.
func TestExampleConfig(t *testing.T) {
	disk, err := os.ReadFile("cloudflare-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(disk, edgeconf.ExampleConfig) {
		t.Fatal("ExampleConfig differs from cloudflare-config.yaml")
	}
	doc, err := config.Parse(bytes.NewReader(edgeconf.ExampleConfig), config.LoadOptions{Filename: "example"})
	if err != nil {
		t.Fatal(err)
	}
	if r := config.Validate(doc, config.ValidateOptions{}); r.Failed(false) {
		t.Errorf("the example is Invalid: %+v", r.Metrics)
	}
}
