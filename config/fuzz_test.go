package config_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/report"
)

// FuzzParse feeds arbitrary bytes to the loader and the validator. Neither
// may panic, every input yields a document, and every problem is located
// in the input.
func FuzzParse(f *testing.F) {
	for _, glob := range []string{"testdata/valid/*.yaml", "testdata/invalid/*.yaml"} {
		files, _ := filepath.Glob(glob)
		for _, name := range files {
			data, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			if len(data) <= config.DefaultMaxBytes {
				f.Add(data)
			}
		}
	}
	f.Add([]byte("\xff\xfe\x00"))
	f.Add([]byte("a: &a [*a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lookup := func(k string) (string, bool) { return "v", k == "SET" }
		doc, err := config.Parse(bytes.NewReader(data), config.LoadOptions{Filename: "fuzz.yaml", LookupEnv: lookup, Env: ""})
		if doc == nil {
			t.Fatalf("Parse returned no document (err %v)", err)
		}
		var ps config.Problems
		if err != nil && !errors.As(err, &ps) {
			t.Fatalf("Parse error is not a Problems list: %v", err)
		}
		for _, p := range doc.Problems {
			if p.Pos.File != "fuzz.yaml" {
				t.Fatalf("problem without its file: %+v", p)
			}
		}
		r := config.Validate(doc, config.ValidateOptions{Now: testNow})
		if r.Metrics.Total != len(r.Config) {
			t.Fatalf("metrics %+v for %d entries", r.Metrics, len(r.Config))
		}
		if len(doc.Problems) > 0 && doc.Problems.Invalid() && r.Metrics.Invalid == 0 {
			t.Fatalf("load problems %v but no Invalid entry", doc.Problems)
		}
		for _, format := range report.Formats {
			if err := report.Write(io.Discard, r, format, report.WriteOptions{}); err != nil {
				t.Fatalf("Write %s: %v", format, err)
			}
		}
		_ = doc.Leaves("")
	})
}

// TestExampleConfig_ValidWithoutEnvironment is the "fresh machine" promise:
// the example at the repository root validates with no variable set.
func TestExampleConfig_ValidWithoutEnvironment(t *testing.T) {
	doc, err := config.Load("../cloudflare-config.yaml", config.LoadOptions{LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	for _, env := range append([]string{""}, doc.Environments()...) {
		doc, err := config.Load("../cloudflare-config.yaml", config.LoadOptions{Env: env})
		if err != nil {
			t.Fatal(err)
		}
		r := config.Validate(doc, config.ValidateOptions{})
		if r.Failed(false) {
			t.Errorf("env %q: the example is Invalid:\n%s", env, findingLines(r))
		}
	}
}
