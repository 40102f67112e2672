package report_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/report"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func sample() *report.Report {
	r := &report.Report{
		Version:   report.Version,
		Timestamp: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC),
		Owner:     "platform-team",
		Source:    report.Source{File: "cloudflare-config.yaml", Env: "staging"},
		Config: []report.Entry{
			{Section: "domain", Status: report.Valid, Details: "factory-wager.com", Tags: []string{"dns"}},
			{Section: "features.premium", Status: report.Invalid, Tags: []string{"feature-flag"},
				Details: "cloudflare-config.yaml:10:48: features.premium.rolloutPercentage: 150 is outside 0..100",
				Findings: []report.Finding{{Severity: report.Invalid, Rule: "rollout-range", Path: "features.premium.rolloutPercentage",
					Location: "cloudflare-config.yaml:10:48", Message: "150 is outside 0..100"}}},
			{Section: "cloudflare", Status: report.Warning, Tags: []string{"cloudflare"},
				Details: "a | pipe <and> \"quotes\", commas",
				Findings: []report.Finding{{Severity: report.Warning, Rule: "account-id-missing", Path: "cloudflare.accountId",
					Location: "cloudflare-config.yaml:28:14", Message: "a | pipe <and> \"quotes\", commas"}}},
			{Section: "crossReferences[0]", Status: report.Valid, Details: "KV CONFIG/x", CrossAPIRef: true, Tags: []string{"cross-api", "kv"}},
		},
	}
	r.Tally()
	return r
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := "testdata/" + name
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestWrite_Golden(t *testing.T) {
	tests := []struct {
		format report.Format
		opts   report.WriteOptions
		file   string
	}{
		{report.Table, report.WriteOptions{}, "table.txt"},
		{report.Table, report.WriteOptions{Color: true}, "table-color.txt"},
		{report.JSON, report.WriteOptions{}, "report.json"},
		{report.CSV, report.WriteOptions{}, "report.csv"},
		{report.Markdown, report.WriteOptions{}, "report.md"},
		{report.JUnit, report.WriteOptions{}, "junit.xml"},
		{report.JUnit, report.WriteOptions{Strict: true}, "junit-strict.xml"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			var buf bytes.Buffer
			if err := report.Write(&buf, sample(), tc.format, tc.opts); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.file, buf.Bytes())
		})
	}
}

func TestWrite_MachineReadable(t *testing.T) {
	r := sample()
	var js bytes.Buffer
	if err := report.Write(&js, r, report.JSON, report.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	var back report.Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("JSON does not parse back: %v", err)
	}
	if back.Version != report.Version || back.Metrics != r.Metrics || len(back.Config) != 4 || !back.Config[3].CrossAPIRef {
		t.Errorf("JSON round trip = %+v", back)
	}

	var c bytes.Buffer
	if err := report.Write(&c, r, report.CSV, report.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&c).ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse: %v", err)
	}
	if len(rows) != 5 || rows[0][0] != "section" || rows[3][2] != `a | pipe <and> "quotes", commas` {
		t.Errorf("CSV rows = %q", rows)
	}

	for _, strict := range []bool{false, true} {
		var x bytes.Buffer
		if err := report.Write(&x, r, report.JUnit, report.WriteOptions{Strict: strict}); err != nil {
			t.Fatal(err)
		}
		var suites struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
			Suite    []struct {
				Cases []struct {
					Name    string `xml:"name,attr"`
					Failure *struct {
						Type string `xml:"type,attr"`
					} `xml:"failure"`
				} `xml:"testcase"`
			} `xml:"testsuite"`
		}
		if err := xml.Unmarshal(x.Bytes(), &suites); err != nil {
			t.Fatalf("JUnit does not parse: %v", err)
		}
		want := 1
		if strict {
			want = 2
		}
		if suites.Tests != 4 || suites.Failures != want || len(suites.Suite[0].Cases) != 4 {
			t.Errorf("strict=%v: tests=%d failures=%d, want 4 and %d", strict, suites.Tests, suites.Failures, want)
		}
	}
}

func TestReport_FailedAndTally(t *testing.T) {
	r := sample()
	if r.Metrics != (report.Metrics{Total: 4, Valid: 2, Invalid: 1, Warnings: 1}) {
		t.Errorf("Tally = %+v", r.Metrics)
	}
	if !r.Failed(false) {
		t.Error("an Invalid entry must fail")
	}
	r.Config = r.Config[2:3]
	r.Tally()
	if r.Failed(false) || !r.Failed(true) {
		t.Errorf("warnings only: Failed(false)=%v Failed(true)=%v, want false true", r.Failed(false), r.Failed(true))
	}
	if got := report.Valid.Worse(report.Warning).Worse(report.Valid); got != report.Warning {
		t.Errorf("Worse = %s", got)
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]report.Format{"": report.Table, "JSON": report.JSON, "md": report.Markdown, "xml": report.JUnit, "csv": report.CSV, "junit": report.JUnit, "markdown": report.Markdown, "table": report.Table} {
		if got, err := report.ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := report.ParseFormat("yaml"); err == nil || !strings.Contains(err.Error(), "table, json, csv, markdown or junit") {
		t.Errorf("ParseFormat(yaml) = %v", err)
	}
	if err := report.Write(&bytes.Buffer{}, sample(), "pdf", report.WriteOptions{}); err == nil {
		t.Error("Write(pdf) succeeded")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWrite_PropagatesWriteErrors(t *testing.T) {
	for _, f := range report.Formats {
		if err := report.Write(failWriter{}, sample(), f, report.WriteOptions{}); err == nil {
			t.Errorf("Write(%s) to a failing writer returned nil", f)
		}
	}
}

func TestReport_AddFindingAndCovers(t *testing.T) {
	r := sample()
	r.AddFinding("domain", report.Finding{Severity: report.Warning, Rule: "w", Path: "domain", Location: "f:1:1", Message: "odd"})
	e := r.Config[0]
	if e.Status != report.Warning || e.Details != "f:1:1: domain: odd" || len(e.Findings) != 1 || r.Metrics.Warnings != 2 {
		t.Errorf("after AddFinding: %+v, metrics %+v", e, r.Metrics)
	}
	r.AddFinding("domain", report.Finding{Severity: report.Invalid, Rule: "i", Message: "bad"})
	if e := r.Config[0]; e.Status != report.Invalid || e.Details != "f:1:1: domain: odd; bad" {
		t.Errorf("second finding: %+v", e)
	}
	r.AddFinding("overrides", report.Finding{Severity: report.Warning, Message: "new section"})
	if last := r.Config[len(r.Config)-1]; last.Section != "overrides" || last.Status != report.Warning || r.Metrics.Total != 5 {
		t.Errorf("new entry: %+v, metrics %+v", last, r.Metrics)
	}
	tests := []struct {
		section, path string
		want          bool
	}{
		{"features.premium", "features.premium.rolloutPercentage", true},
		{"features.premium", "features", true},
		{"features.premium", "features.premiumPlus.enabled", false},
		{"cloudflare.kvNamespaces[0]", "cloudflare.kvNamespaces[0].id", true},
		{"cloudflare.kvNamespaces[0]", "cloudflare.kvNamespaces[1].id", false},
		{"ports", "ports", true},
		{"ports", "portsX", false},
	}
	for _, tc := range tests {
		if got := report.Covers(tc.section, tc.path); got != tc.want {
			t.Errorf("Covers(%q, %q) = %v, want %v", tc.section, tc.path, got, tc.want)
		}
	}
	if got := (report.Finding{Message: "m"}).String(); got != "m" {
		t.Errorf("bare finding = %q", got)
	}
}

func TestWrite_EmptyOwnerAndNoEnv(t *testing.T) {
	r := &report.Report{Version: report.Version, Source: report.Source{File: "c.yaml"}}
	r.Tally()
	var buf bytes.Buffer
	if err := report.Write(&buf, r, report.Markdown, report.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "Owner: (none)") || strings.Contains(buf.String(), "Environment:") || !strings.Contains(buf.String(), "✅ pass") {
		t.Errorf("markdown:\n%s", buf.String())
	}
}
