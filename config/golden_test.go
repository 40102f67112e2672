package config_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/report"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// testNow is the clock of every golden case: certificates and
// compatibility dates in testdata are relative to it.
var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// testEnv is the environment of every golden case.
var testEnv = map[string]string{
	"CLOUDFLARE_ACCOUNT_ID": "0123456789abcdef0123456789abcdef",
	"PRESENT":               "from-env",
}

func lookupTestEnv(k string) (string, bool) {
	v, ok := testEnv[k]
	return v, ok
}

// findingLines renders every non-Valid finding of a report, one per line,
// in report order: "Severity rule location path: message".
func findingLines(r *report.Report) string {
	var b strings.Builder
	for _, e := range r.Config {
		for _, f := range e.Findings {
			fmt.Fprintf(&b, "%s %s %s %s: %s\n", f.Severity, f.Rule, f.Location, f.Path, f.Message)
		}
	}
	return b.String()
}

func validateFile(t *testing.T, path, env string) *report.Report {
	t.Helper()
	doc, err := config.Load(path, config.LoadOptions{Env: env, LookupEnv: lookupTestEnv})
	if doc == nil {
		t.Fatalf("Load(%s) = nil document, err %v", path, err)
	}
	return config.Validate(doc, config.ValidateOptions{Now: testNow})
}

func checkGolden(t *testing.T, goldenPath string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(goldenPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("read golden file (run go test ./config -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run with -update after checking the change)\n--- got\n%s\n--- want\n%s", goldenPath, got, want)
	}
}

// TestGolden_Invalid runs every testdata/invalid/*.yaml and compares the
// findings with the .want file beside it. Each case must produce at least
// one Invalid or Warning finding; adding a case means adding two files.
func TestGolden_Invalid(t *testing.T) {
	cases, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 40 {
		t.Fatalf("found %d invalid cases, want at least 40", len(cases))
	}
	for _, path := range cases {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			r := validateFile(t, path, "")
			got := findingLines(r)
			if got == "" {
				t.Fatalf("%s: no finding, want at least one", path)
			}
			checkGolden(t, strings.TrimSuffix(path, ".yaml")+".want", []byte(got))
		})
	}
}

// TestGolden_Valid validates testdata/valid/*.yaml in the base and in each
// declared environment: none may be Invalid, and the JSON report (with a
// fixed clock) must match the golden file byte for byte.
func TestGolden_Valid(t *testing.T) {
	cases, err := filepath.Glob("testdata/valid/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("no valid cases")
	}
	for _, path := range cases {
		doc, err := config.Load(path, config.LoadOptions{LookupEnv: lookupTestEnv})
		if err != nil {
			t.Fatalf("Load(%s): %v", path, err)
		}
		envs := append([]string{""}, doc.Environments()...)
		for _, env := range envs {
			name := strings.TrimSuffix(filepath.Base(path), ".yaml")
			golden := strings.TrimSuffix(path, ".yaml")
			if env != "" {
				name += "@" + env
				golden += "." + env
			}
			t.Run(name, func(t *testing.T) {
				r := validateFile(t, path, env)
				if r.Metrics.Invalid > 0 {
					t.Fatalf("%s (env %q) is Invalid:\n%s", path, env, findingLines(r))
				}
				var buf bytes.Buffer
				if err := report.Write(&buf, r, report.JSON, report.WriteOptions{}); err != nil {
					t.Fatal(err)
				}
				checkGolden(t, golden+".report.json", buf.Bytes())
			})
		}
	}
}

// TestGolden_ReportDeterministic checks that two runs on the same input give
// byte-identical reports apart from the timestamp.
func TestGolden_ReportDeterministic(t *testing.T) {
	render := func(now time.Time) []byte {
		doc, err := config.Load("testdata/valid/seed.yaml", config.LoadOptions{LookupEnv: lookupTestEnv})
		if err != nil {
			t.Fatal(err)
		}
		r := config.Validate(doc, config.ValidateOptions{Now: now})
		r.Timestamp = time.Time{}
		out, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	a, b := render(testNow), render(testNow.Add(time.Minute))
	if !bytes.Equal(a, b) {
		t.Errorf("reports differ between runs:\n%s\n%s", a, b)
	}
}
