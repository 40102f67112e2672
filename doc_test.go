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
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		docs := map[string]bool{} // package name -> has a doc comment
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			pkg := f.Name.Name
			text := ""
			if f.Doc != nil {
				text = f.Doc.Text()
			}
			docs[pkg] = docs[pkg] || strings.HasPrefix(text, "Package "+pkg+" ") || pkg == "main" && strings.HasPrefix(text, "Command ")
		}
		for pkg, ok := range docs {
			if !ok {
				t.Errorf("package %s (%s) has no \"// Package %s ...\" doc comment", pkg, dir, pkg)
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
