package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// gate decides which packages pass.
type gate struct {
	min     float64  // minimum coverage in percent
	exclude []string // patterns relative to the module path: "dir" or "dir/..."
}

// row is one line of the report.
type row struct {
	pkg        string // relative to the module path
	statements int
	covered    int
	percent    float64 // rounded to one decimal, as go test prints it
	measured   bool    // false: no statements or excluded, so no percentage
	pass       bool
	result     string
}

// excluded reports whether the package path rel matches an -exclude pattern.
func (g gate) excluded(rel string) bool {
	for _, pat := range g.exclude {
		if dir, ok := strings.CutSuffix(pat, "/..."); ok {
			if rel == dir || strings.HasPrefix(rel, dir+"/") {
				return true
			}
		} else if rel == pat {
			return true
		}
	}
	return false
}

// evaluate returns one row per package, sorted by package path.
func (g gate) evaluate(pkgs []pkg, cov map[string]*counts) []row {
	rows := make([]row, 0, len(pkgs))
	for _, p := range pkgs {
		r := row{pkg: p.relPath(), pass: true}
		c := cov[p.ImportPath]
		if c != nil {
			r.statements, r.covered = c.statements, c.covered
		}
		switch {
		case g.excluded(r.pkg):
			r.result = "skipped: excluded"
			r.measured = c != nil && c.statements > 0
		case p.Error != nil:
			r.measured = true
		case c == nil && !hasStatements(p):
			r.result = "ok: no statements"
		case c != nil && c.statements == 0:
			r.result = "ok: no statements"
		default:
			r.measured = true
		}
		if r.measured && r.statements > 0 {
			r.percent = math.Round(1000*float64(r.covered)/float64(r.statements)) / 10
		}
		if r.result == "" {
			r.pass = r.percent >= g.min
			switch {
			case r.pass:
				r.result = "ok"
			case p.Error != nil:
				r.result = "FAIL: package does not load: " + firstLine(p.Error.Err)
			case c == nil:
				r.result = "FAIL: not in the profile (did it build?)"
			case !p.hasTests():
				r.result = "FAIL: no test files"
			default:
				r.result = fmt.Sprintf("FAIL: below %.1f%%", g.min)
			}
		}
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].pkg < rows[j].pkg })
	return rows
}

// writeReport prints the table and a verdict; it reports whether every row passed.
func writeReport(w io.Writer, rows []row, min float64, profile string) bool {
	fmt.Fprintf(w, "\ncoverage gate: each library package needs >= %.1f%% of statements (profile %s)\n\n", min, profile)
	width := len("PACKAGE")
	for _, r := range rows {
		width = max(width, len(r.pkg))
	}
	// Package names left-aligned, numbers right-aligned, the result last.
	const format = "%-*s  %10s  %8s  %8s  %s\n"
	fmt.Fprintf(w, format, width, "PACKAGE", "STATEMENTS", "COVERED", "COVERAGE", "RESULT")
	var failed []string
	gated := 0
	for _, r := range rows {
		pct := "-"
		if r.measured {
			pct = fmt.Sprintf("%.1f%%", r.percent)
		}
		fmt.Fprintf(w, format, width, r.pkg, fmt.Sprint(r.statements), fmt.Sprint(r.covered), pct, r.result)
		if !strings.HasPrefix(r.result, "skipped") {
			gated++
		}
		if !r.pass {
			failed = append(failed, r.pkg)
		}
	}
	fmt.Fprintln(w)
	if len(failed) > 0 {
		fmt.Fprintf(w, "coverage gate: FAIL: %d of %d library packages below %.1f%%: %s\n",
			len(failed), gated, min, strings.Join(failed, ", "))
		return false
	}
	fmt.Fprintf(w, "coverage gate: PASS: all %d library packages at or above %.1f%%\n", gated, min)
	return true
}

// firstLine returns s up to its first newline.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
