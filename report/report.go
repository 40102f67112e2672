// Package report holds the validation report of a configuration and
// writes it as a table, JSON, CSV, Markdown or JUnit XML.
//
// The JSON shape is versioned (Report.Version, currently "edgeconf.report/v1")
// and keeps the seed's fields: config (one entry per section), timestamp,
// owner and metrics. Fields are only ever added within a version.
package report

import "time"

// Version identifies the JSON shape of a Report.
const Version = "edgeconf.report/v1"

// Status is the verdict on one section.
type Status string

// The three statuses, worst last.
const (
	Valid   Status = "Valid"
	Warning Status = "Warning"
	Invalid Status = "Invalid"
)

// rank orders statuses from best to worst.
func (s Status) rank() int {
	switch s {
	case Invalid:
		return 2
	case Warning:
		return 1
	}
	return 0
}

// Worse returns the worse of s and o.
func (s Status) Worse(o Status) Status {
	if o.rank() > s.rank() {
		return o
	}
	return s
}

// Report is the validation report of one configuration.
type Report struct {
	Version   string    `json:"version"`
	Config    []Entry   `json:"config"`
	Timestamp time.Time `json:"timestamp"`
	Owner     string    `json:"owner"`
	Metrics   Metrics   `json:"metrics"`
	// Source names the file and environment that were validated.
	Source Source `json:"source"`
}

// Source says what was validated.
type Source struct {
	File string `json:"file"`
	Env  string `json:"env,omitempty"`
}

// Entry is the verdict on one section of the configuration, such as
// "ports", "features.premium" or "cloudflare.kvNamespaces[0]".
type Entry struct {
	Section string `json:"section"`
	Status  Status `json:"status"`
	// Details is a one-line summary for a Valid section, or the located
	// problems ("file:line:col: path: message", joined by "; ").
	Details     string   `json:"details"`
	KVOverride  bool     `json:"kvOverride"`
	CrossAPIRef bool     `json:"crossApiRef"`
	Tags        []string `json:"tags"`
	// Findings lists the problems behind a Warning or Invalid status.
	Findings []Finding `json:"findings,omitempty"`
}

// Finding is one located problem within a section.
type Finding struct {
	Severity Status `json:"severity"`
	Rule     string `json:"rule"`
	Path     string `json:"path"`
	Location string `json:"location"` // file:line:col
	Message  string `json:"message"`
}

// Metrics counts entries by status.
type Metrics struct {
	Total    int `json:"total"`
	Valid    int `json:"valid"`
	Invalid  int `json:"invalid"`
	Warnings int `json:"warnings"`
}

// Tally recomputes Metrics from the entries.
func (r *Report) Tally() {
	m := Metrics{Total: len(r.Config)}
	for _, e := range r.Config {
		switch e.Status {
		case Valid:
			m.Valid++
		case Invalid:
			m.Invalid++
		case Warning:
			m.Warnings++
		}
	}
	r.Metrics = m
}

// Failed reports whether the report should fail a CI gate: any Invalid
// entry, or with strict any Warning too.
func (r *Report) Failed(strict bool) bool {
	return r.Metrics.Invalid > 0 || (strict && r.Metrics.Warnings > 0)
}

// String renders "location: path: message", leaving out what is empty.
func (f Finding) String() string {
	s := f.Message
	if f.Path != "" {
		s = f.Path + ": " + s
	}
	if f.Location != "" {
		s = f.Location + ": " + s
	}
	return s
}

// AddFinding adds a finding to the entry for section (creating the entry
// at the end when there is none), updates its status and details, and
// recounts the metrics.
func (r *Report) AddFinding(section string, f Finding) {
	i := r.entry(section)
	e := &r.Config[i]
	if len(e.Findings) == 0 {
		e.Details = ""
	}
	e.Findings = append(e.Findings, f)
	e.Status = e.Status.Worse(f.Severity)
	if e.Details != "" {
		e.Details += "; "
	}
	e.Details += f.String()
	r.Tally()
}

// entry returns the index of section's entry, appending one if needed.
func (r *Report) entry(section string) int {
	for i := range r.Config {
		if r.Config[i].Section == section {
			return i
		}
	}
	r.Config = append(r.Config, Entry{Section: section, Status: Valid, Tags: []string{}})
	return len(r.Config) - 1
}

// Covers reports whether the entry for section covers the value at path:
// the path is the section, lies inside it, or contains it.
func Covers(section, path string) bool {
	inside := func(a, b string) bool { // a is b or lies below b
		return a == b || len(a) > len(b) && a[:len(b)] == b && (a[len(b)] == '.' || a[len(b)] == '[')
	}
	return inside(path, section) || inside(section, path)
}
