package report_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/factory-wager/edgeconf/report"
)

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// The coloured table, escape codes removed, is the plain table: colour
// never moves a column on a terminal. Overridden entries are marked, and a
// finding without a location has no empty parentheses.
func TestTable_ColorAlignsAndMarks(t *testing.T) {
	r := sample()
	r.Config[0].KVOverride = true
	r.AddFinding(r.Config[1].Section, report.Finding{Severity: report.Warning, Rule: "x", Message: "second finding"})
	var plain, color bytes.Buffer
	if err := report.Write(&plain, r, report.Table, report.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := report.Write(&color, r, report.Table, report.WriteOptions{Color: true}); err != nil {
		t.Fatal(err)
	}
	if got := ansi.ReplaceAllString(color.String(), ""); got != plain.String() {
		t.Errorf("colour changes the layout:\n%s\nplain:\n%s", got, plain.String())
	}
	if !strings.Contains(color.String(), "\x1b[") {
		t.Error("no colour")
	}
	if !strings.Contains(plain.String(), r.Config[0].Section+" (override)") {
		t.Errorf("the overridden entry is not marked:\n%s", plain.String())
	}
	if strings.Contains(plain.String(), "()") {
		t.Errorf("empty location shown:\n%s", plain.String())
	}
}
