package report

import (
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/factory-wager/edgeconf/internal/termsafe"
)

// Format names an output format of Write.
type Format string

// The formats Write knows.
const (
	Table    Format = "table"
	JSON     Format = "json"
	CSV      Format = "csv"
	Markdown Format = "markdown"
	JUnit    Format = "junit"
)

// Formats lists every format, for flag help and errors.
var Formats = []Format{Table, JSON, CSV, Markdown, JUnit}

// ParseFormat accepts a format name (case-insensitive; "md" and "xml" are
// aliases for markdown and junit).
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "table", "":
		return Table, nil
	case "json":
		return JSON, nil
	case "csv":
		return CSV, nil
	case "markdown", "md":
		return Markdown, nil
	case "junit", "xml":
		return JUnit, nil
	}
	return "", fmt.Errorf("unknown output format %q (want table, json, csv, markdown or junit)", s)
}

// WriteOptions tunes Write. The zero value is ready to use.
type WriteOptions struct {
	// Color adds ANSI colours to the table; set it only for a terminal.
	Color bool
	// Strict makes warnings count as failures (JUnit failures, table verdict).
	Strict bool
}

// Write renders r in format f.
func Write(w io.Writer, r *Report, f Format, opts WriteOptions) error {
	switch f {
	case Table:
		return writeTable(w, r, opts)
	case JSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(r)
	case CSV:
		return writeCSV(w, r)
	case Markdown:
		return writeMarkdown(w, r, opts)
	case JUnit:
		return writeJUnit(w, r, opts)
	}
	return fmt.Errorf("unknown output format %q", f)
}

const (
	ansiReset  = "\x1b[0m"
	ansiRed    = "\x1b[31m"
	ansiYellow = "\x1b[33m"
	ansiGreen  = "\x1b[32m"
	ansiBold   = "\x1b[1m"
)

func colorize(s Status, text string, on bool) string {
	if !on {
		return text
	}
	switch s {
	case Invalid:
		return ansiRed + text + ansiReset
	case Warning:
		return ansiYellow + text + ansiReset
	}
	return ansiGreen + text + ansiReset
}

func writeTable(w io.Writer, r *Report, opts WriteOptions) error {
	title := oneLine(r.Source.File)
	if r.Source.Env != "" {
		title += " (environment " + oneLine(r.Source.Env) + ")"
	}
	if opts.Color {
		title = ansiBold + title + ansiReset
	}
	if _, err := fmt.Fprintf(w, "%s\n\n", title); err != nil {
		return err
	}
	// The columns are laid out without colour, and the status word of
	// each row is coloured afterwards: escape codes have no width on a
	// terminal, but tabwriter would count them.
	var buf strings.Builder
	tw := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tSECTION\tDETAILS")
	rows := []Status{""} // the status of each line, "" for none
	for _, e := range r.Config {
		section := oneLine(e.Section) // a section can be a name from the file
		if e.KVOverride {
			section += " (override)"
		}
		if len(e.Findings) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Status, section, oneLine(e.Details))
			rows = append(rows, e.Status)
			continue
		}
		for i, f := range e.Findings {
			status := string(e.Status)
			if i > 0 {
				status, section = "", ""
			}
			msg := f.Message
			if f.Path != "" {
				msg = f.Path + ": " + msg
			}
			if f.Location != "" {
				msg += " (" + f.Location + ")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", status, section, oneLine(msg))
			rows = append(rows, Status(status))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	lines := strings.SplitAfter(buf.String(), "\n")
	for i, line := range lines {
		if i < len(rows) && rows[i] != "" && opts.Color {
			n := len(rows[i])
			line = colorize(rows[i], line[:n], true) + line[n:]
		}
		if _, err := io.WriteString(w, line); err != nil {
			return err
		}
	}
	m := r.Metrics
	verdict := colorize(Valid, "PASS", opts.Color)
	if r.Failed(opts.Strict) {
		verdict = colorize(Invalid, "FAIL", opts.Color)
	}
	_, err := fmt.Fprintf(w, "\n%s  %d sections: %d valid, %d invalid, %d warning(s)\n", verdict, m.Total, m.Valid, m.Invalid, m.Warnings)
	return err
}

// oneLine makes s one table cell: line breaks become spaces and any other
// control character (a stored value's escape sequence) a visible escape.
func oneLine(s string) string { return termsafe.String(strings.ReplaceAll(s, "\n", " ")) }

// CSVCell neutralises a cell a spreadsheet would run as a formula: one
// starting with =, +, -, @, a tab or a carriage return gets a leading '.
func CSVCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// csvWriter writes rows with every cell passed through CSVCell.
type csvWriter struct{ *csv.Writer }

func (c csvWriter) Write(row []string) error {
	for i, s := range row {
		row[i] = CSVCell(s)
	}
	return c.Writer.Write(row)
}

func writeCSV(w io.Writer, r *Report) error {
	cw := csvWriter{csv.NewWriter(w)}
	_ = cw.Write([]string{"section", "status", "details", "kvOverride", "crossApiRef", "tags", "locations"})
	for _, e := range r.Config {
		locs := make([]string, len(e.Findings))
		for i, f := range e.Findings {
			locs[i] = f.Location
		}
		_ = cw.Write([]string{
			e.Section, string(e.Status), e.Details,
			strconv.FormatBool(e.KVOverride), strconv.FormatBool(e.CrossAPIRef),
			strings.Join(e.Tags, ";"), strings.Join(locs, ";"),
		})
	}
	cw.Flush()
	return cw.Error()
}

func writeMarkdown(w io.Writer, r *Report, opts WriteOptions) error {
	mdEscaper := strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;")
	m := r.Metrics
	verdict := "✅ pass"
	if r.Failed(opts.Strict) {
		verdict = "❌ fail"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Configuration report: %s\n\n", mdEscaper.Replace(termsafe.String(r.Source.File)))
	if r.Source.Env != "" {
		fmt.Fprintf(&b, "Environment: `%s`  \n", strings.ReplaceAll(termsafe.String(r.Source.Env), "`", "'"))
	}
	fmt.Fprintf(&b, "Owner: %s  \nGenerated: %s  \nResult: **%s**: %d sections, %d valid, %d invalid, %d warning(s)\n\n",
		mdEscaper.Replace(termsafe.String(orNone(r.Owner))), r.Timestamp.Format("2006-01-02T15:04:05Z07:00"), verdict, m.Total, m.Valid, m.Invalid, m.Warnings)
	b.WriteString("| Status | Section | Details | Tags |\n|---|---|---|---|\n")
	for _, e := range r.Config {
		icon := map[Status]string{Valid: "✅", Warning: "⚠️", Invalid: "❌"}[e.Status]
		section := strings.ReplaceAll(mdEscaper.Replace(termsafe.String(e.Section)), "`", "'")
		fmt.Fprintf(&b, "| %s %s | `%s` | %s | %s |\n", icon, e.Status, section, mdEscaper.Replace(termsafe.String(e.Details)), strings.Join(e.Tags, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

type junitSuites struct {
	XMLName  xml.Name   `xml:"testsuites"`
	Name     string     `xml:"name,attr"`
	Tests    int        `xml:"tests,attr"`
	Failures int        `xml:"failures,attr"`
	Suites   []junitSet `xml:"testsuite"`
}

type junitSet struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Timestamp string      `xml:"timestamp,attr"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",chardata"`
}

// writeJUnit writes one testcase per entry. Invalid entries fail; Warning
// entries fail only with Strict and otherwise carry their details in
// system-out, so CI systems show them without turning red.
func writeJUnit(w io.Writer, r *Report, opts WriteOptions) error {
	set := junitSet{Name: "edgeconf validate " + r.Source.File, Timestamp: r.Timestamp.Format("2006-01-02T15:04:05")}
	if r.Source.Env != "" {
		set.Name += " (" + r.Source.Env + ")"
	}
	for _, e := range r.Config {
		c := junitCase{Name: e.Section, Classname: "edgeconf." + r.Source.File}
		fail := e.Status == Invalid || (opts.Strict && e.Status == Warning)
		if fail {
			msgs := make([]string, len(e.Findings))
			for i, f := range e.Findings {
				msgs[i] = f.String()
			}
			c.Failure = &junitFailure{Message: oneLine(e.Details), Type: string(e.Status), Body: strings.Join(msgs, "\n")}
			set.Failures++
		} else if e.Status == Warning {
			c.SystemOut = "Warning: " + e.Details
		}
		set.Cases = append(set.Cases, c)
	}
	set.Tests = len(set.Cases)
	suites := junitSuites{Name: "edgeconf", Tests: set.Tests, Failures: set.Failures, Suites: []junitSet{set}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(suites); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
