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
