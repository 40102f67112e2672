package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Position is where a value was written: file, 1-based line and column.
// Line 0 means the value was not written anywhere (a default).
type Position struct {
	File   string `json:"file,omitempty"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
}

// String renders file:line:col, leaving out what is unknown.
func (p Position) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		if b.Len() > 0 {
			b.WriteByte(':')
		}
		b.WriteString(strconv.Itoa(p.Line))
		if p.Column > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(p.Column))
		}
	}
	return b.String()
}

// Severity grades a Problem.
type Severity string

const (
	// SeverityInvalid makes the configuration unusable; validate exits 1.
	SeverityInvalid Severity = "Invalid"
	// SeverityWarning is worth a look; validate exits 1 only with --strict.
	SeverityWarning Severity = "Warning"
)

// Problem is one located finding about the configuration.
type Problem struct {
	Severity Severity `json:"severity"`
	// Rule is a stable identifier of the check, for example "port-range".
	Rule string `json:"rule"`
	// Path is the dotted key path, for example features.premium.rolloutPercentage.
	Path    string   `json:"path"`
	Pos     Position `json:"-"`
	Message string   `json:"message"`
}

// Location renders Pos for reports (file:line:col).
func (p Problem) Location() string { return p.Pos.String() }

// Error renders "file:line:col: path: message".
func (p Problem) Error() string {
	var b strings.Builder
	if loc := p.Pos.String(); loc != "" {
		b.WriteString(loc)
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Problems is a list of findings. As an error it reports all of them.
type Problems []Problem

// Error joins every problem on its own line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes each problem to errors.Is and errors.As.
func (ps Problems) Unwrap() []error {
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p
	}
	return errs
}

// Invalid reports whether any problem has SeverityInvalid.
func (ps Problems) Invalid() bool {
	for _, p := range ps {
		if p.Severity == SeverityInvalid {
			return true
		}
	}
	return false
}

// Sort orders problems by position, then path, then message, so reports
// are deterministic.
func (ps Problems) Sort() {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.Pos.File != b.Pos.File {
			return a.Pos.File < b.Pos.File
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		if a.Pos.Column != b.Pos.Column {
			return a.Pos.Column < b.Pos.Column
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Message < b.Message
	})
}

// problemf builds a Problem with a formatted message.
func problemf(sev Severity, rule, path string, pos Position, format string, args ...any) Problem {
	return Problem{Severity: sev, Rule: rule, Path: path, Pos: pos, Message: fmt.Sprintf(format, args...)}
}
