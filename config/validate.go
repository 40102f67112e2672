package config

import (
	"os"
	"sort"
	"strings"
	"time"

	"github.com/factory-wager/edgeconf/report"
)

// ValidateOptions tunes Validate. The zero value is ready to use.
type ValidateOptions struct {
	// Now is the reference time for certificate expiry and dates in the
	// future; optional, zero means time.Now().
	Now time.Time
	// ReadFile reads certificate and key files; optional, nil means os.ReadFile.
	ReadFile func(name string) ([]byte, error)
}

// Validate checks the document against every rule and returns the report:
// one entry per section in a fixed order, each Valid, Warning or Invalid,
// with every problem located. Load problems of the document are included.
// The same document gives the same report apart from the timestamp.
func Validate(doc *Document, opts ValidateOptions) *report.Report {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.ReadFile == nil {
		opts.ReadFile = os.ReadFile
	}
	v := &validator{doc: doc, cfg: &doc.Config, opts: opts}
	r := &report.Report{
		Version:   report.Version,
		Timestamp: opts.Now.UTC(),
		Owner:     doc.Config.Owner,
		Source:    report.Source{File: doc.File, Env: doc.Env},
	}
	if fatal := fatalProblems(doc.Problems); len(fatal) > 0 {
		// Nothing was decoded: report the load problems alone.
		r.Config = []report.Entry{entryFor(&section{name: "yaml", tags: []string{"syntax"}}, fatal)}
		r.Tally()
		return r
	}
	v.problems = append(v.problems, doc.Problems...)
	v.run()
	r.Config = v.entries()
	r.Tally()
	return r
}

// Fatal returns the load problems that left nothing to decode (syntax
// errors, an empty or oversized file); values of such a document are all
// defaults.
func (d *Document) Fatal() Problems { return fatalProblems(d.Problems) }

// fatalProblems are load problems that leave nothing to validate.
func fatalProblems(ps Problems) Problems {
	var out Problems
	for _, p := range ps {
		switch p.Rule {
		case "yaml-syntax", "yaml-empty", "yaml-alias", "yaml-multi-document", "size-limit":
			out = append(out, p)
		}
		if p.Rule == "type" && p.Path == "" {
			out = append(out, p)
		}
	}
	return out
}

type validator struct {
	doc      *Document
	cfg      *Config
	opts     ValidateOptions
	problems Problems
	sections []*section
}

// section is one report entry under construction.
type section struct {
	name     string
	tags     []string
	summary  string
	crossRef bool
}

func (v *validator) addSection(name, summary string, tags ...string) *section {
	s := &section{name: name, summary: summary, tags: tags}
	v.sections = append(v.sections, s)
	return s
}

// invalid and warn record a problem at path, located at the path's position.
func (v *validator) invalid(rule, path, format string, args ...any) {
	v.report(SeverityInvalid, rule, path, format, args...)
}

func (v *validator) warn(rule, path, format string, args ...any) {
	v.report(SeverityWarning, rule, path, format, args...)
}

func (v *validator) report(sev Severity, rule, path, format string, args ...any) {
	if v.broken(path) {
		return // already reported as a load problem; its value is not real
	}
	v.problems = append(v.problems, problemf(sev, rule, path, v.doc.Pos(path), format, args...))
}

func (v *validator) run() {
	v.checkOwner()
	v.checkDomain()
	v.checkSSL()
	v.checkPorts()
	v.checkFeatures()
	v.checkMonitoring()
	v.checkDependencies()
	v.checkCrossReferences()
	v.checkCloudflare()
	v.checkProxy()
}

// entries assigns every problem to the section whose name is the longest
// prefix of its path and renders the sections in order.
func (v *validator) entries() []report.Entry {
	byName := map[string]*section{}
	for _, s := range v.sections {
		byName[s.name] = s
	}
	assigned := map[*section]Problems{}
	for _, p := range v.problems {
		s := v.sectionFor(p.Path, byName)
		assigned[s] = append(assigned[s], p)
	}
	out := make([]report.Entry, 0, len(v.sections))
	for _, s := range v.sections {
		out = append(out, entryFor(s, assigned[s]))
	}
	return out
}

func (v *validator) sectionFor(path string, byName map[string]*section) *section {
	for p := path; p != ""; p = parentPath(p) {
		if s, ok := byName[p]; ok {
			return s
		}
	}
	name := "config"
	if top := strings.FieldsFunc(path, func(r rune) bool { return r == '.' || r == '[' }); len(top) > 0 {
		if _, known := structFields(configType)[top[0]]; known {
			name = top[0]
		}
	}
	s := v.addSection(name, "", "schema")
	byName[name] = s
	return s
}

func entryFor(s *section, ps Problems) report.Entry {
	ps.Sort()
	e := report.Entry{
		Section:     s.name,
		Status:      report.Valid,
		Details:     s.summary,
		CrossAPIRef: s.crossRef,
		Tags:        append([]string{}, s.tags...),
	}
	if len(ps) == 0 {
		return e
	}
	msgs := make([]string, 0, len(ps))
	for _, p := range ps {
		st := report.Invalid
		if p.Severity == SeverityWarning {
			st = report.Warning
		}
		e.Status = e.Status.Worse(st)
		e.Findings = append(e.Findings, report.Finding{
			Severity: st, Rule: p.Rule, Path: p.Path, Location: p.Location(), Message: p.Message,
		})
		msgs = append(msgs, p.Error())
	}
	e.Details = strings.Join(msgs, "; ")
	return e
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// broken reports whether path, or a path above it, was dropped at load.
func (v *validator) broken(path string) bool {
	for p := path; p != ""; p = parentPath(p) {
		if v.doc.broken[p] {
			return true
		}
	}
	return false
}
