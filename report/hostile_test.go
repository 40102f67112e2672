package report_test

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"

	"github.com/factory-wager/edgeconf/report"
)

// Cells a spreadsheet would run as formulas are neutralised with a
// leading quote.
func TestWrite_CSVNeutralisesFormulas(t *testing.T) {
	r := &report.Report{Version: report.Version, Config: []report.Entry{
		{Section: "=HYPERLINK(\"http://evil\")", Status: report.Valid, Details: "+1+1"},
		{Section: "-2", Status: report.Valid, Details: "@SUM(A1)"},
		{Section: "tab", Status: report.Valid, Details: "\t=1"},
		{Section: "plain", Status: report.Valid, Details: "a=b"},
	}}
	var b bytes.Buffer
	if err := report.Write(&b, r, report.CSV, report.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]string{{`'=HYPERLINK("http://evil")`, "'+1+1"}, {"'-2", "'@SUM(A1)"}, {"tab", "'\t=1"}, {"plain", "a=b"}}
	for i, w := range want {
		if rows[i+1][0] != w[0] || rows[i+1][2] != w[1] {
			t.Errorf("row %d = %q, want section %q details %q", i+1, rows[i+1], w[0], w[1])
		}
	}
	if got := report.CSVCell(""); got != "" {
		t.Errorf("CSVCell(\"\") = %q", got)
	}
}

// A stored string with escape sequences or line breaks cannot forge rows
// or repaint the terminal in the table.
func TestWrite_TableStripsControlCharacters(t *testing.T) {
	r := &report.Report{Version: report.Version, Source: report.Source{File: "c.yaml"}, Config: []report.Entry{
		{Section: "ports", Status: report.Valid, Details: "by eve\x1b[2J\rVALID   forged\nline"},
	}}
	var b bytes.Buffer
	if err := report.Write(&b, r, report.Table, report.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.ContainsAny(out, "\x1b\r") || !strings.Contains(out, `eve\x1b[2J\x0dVALID   forged line`) {
		t.Errorf("table = %q", out)
	}
}

// A section named from the file (a feature, an environment) and the file
// name itself reach the table and the Markdown without their control
// characters: no escape sequence, no forged row.
func TestWrite_SectionsStripControlCharacters(t *testing.T) {
	r := &report.Report{Version: report.Version, Source: report.Source{File: "c\x1b[1m.yaml", Env: "prod\r"}, Owner: "o\x07", Config: []report.Entry{
		{Section: "features.bad\x1b[1mflag", Status: report.Valid, Details: "ok"},
		{Section: "features.x\nInvalid  forged", Status: report.Invalid, Findings: []report.Finding{{Message: "m"}}},
		{Section: "features.`x|y`", Status: report.Valid, Details: "d\x1b[2J"},
	}}
	for _, f := range []report.Format{report.Table, report.Markdown} {
		var b bytes.Buffer
		if err := report.Write(&b, r, f, report.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if strings.ContainsAny(out, "\x1b\r\x07") || !strings.Contains(out, `features.bad\x1b[1mflag`) {
			t.Errorf("%s = %q", f, out)
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(strings.TrimLeft(line, "| ❌"), "Invalid  forged") {
				t.Errorf("%s: a line break in a section forged a row: %q", f, out)
			}
		}
	}
}
