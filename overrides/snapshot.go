package overrides

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/internal/atomicfile"
	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/refs"
	"github.com/factory-wager/edgeconf/report"
)

// Where a snapshot's overrides came from.
const (
	SourceStore = "store" // read from the KV store just now
	SourceLKG   = "lkg"   // the store could not be read: the last-known-good copy
)

// Snapshot is the effective configuration at one moment: the file layers
// with the overrides applied, indexed for lookups that do not allocate.
type Snapshot struct {
	Doc       *config.Document
	Overrides []Record
	Source    string    // SourceStore or SourceLKG
	SavedAt   time.Time // for SourceLKG: when the copy was last written or confirmed unchanged
	StoreErr  error     // for SourceLKG: why the store could not be read
	Problems  config.Problems
	index     map[string]config.Value
}

// Get returns the effective value at a canonical path (as
// config.Document.Lookup returns it) without allocating.
func (s *Snapshot) Get(path string) (config.Value, bool) {
	v, ok := s.index[path]
	return v, ok
}

// Age is how old a last-known-good snapshot is at now.
func (s *Snapshot) Age(now time.Time) time.Duration {
	if s.Source != SourceLKG {
		return 0
	}
	return now.Sub(s.SavedAt)
}

// lkgFile is the content of lkg.json.
type lkgFile struct {
	Version   int          `json:"version"`
	SavedAt   time.Time    `json:"savedAt"`
	Env       string       `json:"env"`
	File      string       `json:"file"`
	Overrides []Record     `json:"overrides"`
	Effective config.Value `json:"effective"`
}

// Resolve reads the overrides, resolves their references and applies them
// over the file layers. When the store cannot be read it serves the
// last-known-good overrides (Source SourceLKG) and says why in StoreErr;
// with no last-known-good copy, or when the store refused the credentials
// (kvstore.ErrAccessDenied: a wrong token is a mistake to fix, not an
// outage to ride out), it returns the store's error. After a
// resolve whose result is valid it replaces the last-known-good copy; an
// invalid configuration never does.
func (m *Manager) Resolve(ctx context.Context) (*Snapshot, error) {
	recs, err := m.List(ctx, "")
	if errors.Is(err, kvstore.ErrAccessDenied) {
		return nil, fmt.Errorf("%w (the token was refused: fix the credentials; the last-known-good copy is for outages)", err)
	}
	if err != nil {
		lkg, lerr := m.readLKG()
		if lerr != nil {
			return nil, fmt.Errorf("%w (and no last-known-good copy: %v)", err, lerr)
		}
		snap := m.build(ctx, lkg.Overrides, false)
		snap.Source, snap.SavedAt, snap.StoreErr = SourceLKG, lkg.SavedAt, err
		m.o.Logger.Warn("serving last-known-good configuration", "savedAt", lkg.SavedAt, "err", err)
		return snap, nil
	}
	snap := m.build(ctx, recs, true)
	snap.Source = SourceStore
	if m.o.LKGPath != "" && len(snap.Problems) == 0 && !config.Validate(snap.Doc, config.ValidateOptions{Now: m.o.Now()}).Failed(false) {
		if err := m.writeLKG(snap); err != nil {
			m.o.Logger.Warn("could not write last-known-good copy", "err", err)
		}
	}
	return snap, nil
}

// build applies recs (resolving references when resolve is set; an LKG
// copy holds the values it resolved to).
func (m *Manager) build(ctx context.Context, recs []Record, resolve bool) *Snapshot {
	snap := &Snapshot{Overrides: recs}
	ovs := make([]config.Override, 0, len(recs))
	for i, r := range recs {
		if resolve && r.Ref != "" {
			ref, err := refs.Parse(r.Ref)
			var v any
			if err == nil {
				v, err = m.resolveRef(ctx, ref)
			}
			if err != nil {
				snap.Problems = append(snap.Problems, config.Problem{Severity: config.SeverityInvalid, Rule: "override-ref", Path: r.Path,
					Pos: config.Position{File: r.Key}, Message: fmt.Sprintf("cannot resolve %s: %v; the file value stays", r.Ref, err)})
				continue
			}
			recs[i].Value = v
			r.Value = v
		}
		if r.Value == nil {
			continue
		}
		ovs = append(ovs, r.Override())
	}
	doc, problems := m.o.Doc.Apply(ovs)
	snap.Doc = doc
	snap.Problems = append(snap.Problems, problems...)
	snap.index = doc.Index()
	return snap
}

// writeLKG keeps s as the last-known-good copy. A copy that already holds
// the same configuration is not written again: its modification time is
// set to now instead, which readLKG takes as the time it was last
// confirmed (a write and two fsyncs saved on every resolve that changes
// nothing; if that time is lost in a crash, the copy only looks older).
func (m *Manager) writeLKG(s *Snapshot) error {
	eff, ok := s.index[""] // the whole configuration, already encoded by build
	if !ok {
		return errors.New("the snapshot has no effective configuration")
	}
	now := m.o.Now().UTC()
	body, err := json.MarshalIndent(lkgFile{Version: 1, SavedAt: now, Env: m.o.Env, File: s.Doc.File, Overrides: s.Overrides, Effective: eff}, "", "  ")
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(m.o.LKGPath); err != nil || !bytes.Equal(withoutSavedAt(old), withoutSavedAt(body)) {
		if err := atomicfile.WriteFile(m.o.LKGPath, body, 0o600); err != nil {
			return err
		}
	}
	return os.Chtimes(m.o.LKGPath, now, now)
}

// withoutSavedAt drops the top-level "savedAt" line of an lkg.json body.
func withoutSavedAt(b []byte) []byte {
	const key = "\n  \"savedAt\": "
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return b
	}
	j := bytes.IndexByte(b[i+1:], '\n')
	if j < 0 {
		return b
	}
	return append(b[:i:i], b[i+1+j:]...)
}

func (m *Manager) readLKG() (*lkgFile, error) {
	if m.o.LKGPath == "" {
		return nil, errors.New("last-known-good is disabled")
	}
	b, err := os.ReadFile(m.o.LKGPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s does not exist yet", m.o.LKGPath)
	}
	if err != nil {
		return nil, err
	}
	var f struct {
		Version   int       `json:"version"`
		SavedAt   time.Time `json:"savedAt"`
		Env       string    `json:"env"`
		Overrides []Record  `json:"overrides"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", m.o.LKGPath, err)
	}
	if fi, err := os.Stat(m.o.LKGPath); err == nil && fi.ModTime().After(f.SavedAt) {
		f.SavedAt = fi.ModTime().UTC() // confirmed unchanged since it was written
	}
	if f.Env != m.o.Env {
		return nil, fmt.Errorf("%s holds environment %q, not %q", m.o.LKGPath, EnvName(f.Env), EnvName(m.o.Env))
	}
	return &lkgFile{Version: f.Version, SavedAt: f.SavedAt, Env: f.Env, Overrides: f.Overrides}, nil
}

// Validate reports on the snapshot's effective configuration: the rules of
// config.Validate, entries marked kvOverride where an override is active
// and crossApiRef where a reference is involved, the overrides' own
// problems, and every crossReference of the configuration checked
// against the resolver's stores.
func (m *Manager) Validate(ctx context.Context, s *Snapshot, now time.Time) *report.Report {
	r := config.Validate(s.Doc, config.ValidateOptions{Now: now})
	for i := range r.Config {
		e := &r.Config[i]
		for _, o := range s.Overrides {
			if report.Covers(e.Section, o.Path) {
				e.KVOverride = true
				if o.Ref != "" {
					e.CrossAPIRef = true
				}
			}
			// A value an override set has no file position: its KV key
			// is where it comes from.
			for j := range e.Findings {
				f := &e.Findings[j]
				if report.Covers(o.Path, f.Path) && (f.Location == "" || strings.HasSuffix(f.Location, ":0:0")) {
					f.Location = "kv " + o.Key
				}
			}
		}
	}
	for _, p := range s.Problems {
		r.AddFinding(sectionOf(r, p.Path), report.Finding{Severity: report.Invalid, Rule: p.Rule, Path: p.Path, Location: p.Location(), Message: p.Message})
	}
	if s.Source == SourceLKG {
		r.AddFinding("overrides", report.Finding{Severity: report.Warning, Rule: "store-unavailable", Path: "",
			Location: m.Target(), Message: fmt.Sprintf("store-unavailable: the KV store could not be read (%v); using the last-known-good overrides saved %s ago (%s)", s.StoreErr, s.Age(now).Round(time.Second), s.SavedAt.Format(time.RFC3339))})
	}
	m.checkCrossReferences(ctx, s.Doc, r)
	return r
}

// sectionOf is the entry that covers path, or "overrides".
func sectionOf(r *report.Report, path string) string {
	best := ""
	for _, e := range r.Config {
		if report.Covers(e.Section, path) && len(e.Section) > len(best) && (path == e.Section || len(path) > len(e.Section)) {
			best = e.Section
		}
	}
	if best == "" {
		return "overrides"
	}
	return best
}

// checkCrossReferences resolves every crossReference and applies its
// validator. A missing value or a kind with no resolver yet is a Warning
// (it may be provisioned later); a value that fails its validator, a
// cycle or a broken reference is Invalid.
func (m *Manager) checkCrossReferences(ctx context.Context, d *config.Document, r *report.Report) {
	for i, cr := range d.Config.CrossReferences {
		section := fmt.Sprintf("crossReferences[%d]", i)
		loc := d.Pos(section).String()
		add := func(sev report.Status, rule, msg string) {
			r.AddFinding(section, report.Finding{Severity: sev, Rule: rule, Path: section, Location: loc, Message: msg})
		}
		ref, err := refs.FromCrossReference(cr.Source, cr.Path)
		if err != nil {
			continue // config.Validate reported the malformed path
		}
		res, err := m.o.Resolver.Resolve(ctx, ref)
		switch {
		case errors.Is(err, refs.ErrNotAvailable):
			add(report.Warning, "ref-unresolved", fmt.Sprintf("%s was not checked: %v", ref, err))
			continue
		case isNotFound(err):
			where := "its bucket"
			if ref.Kind == refs.KV {
				where = m.Target()
			}
			add(report.Warning, "ref-missing", fmt.Sprintf("%s does not exist in %s yet", ref, where))
			continue
		case err != nil:
			add(report.Invalid, "ref-resolve", err.Error())
			continue
		}
		if err := refs.Check(cr.Validator, res.Value); err != nil {
			add(report.Invalid, "ref-validator", fmt.Sprintf("%s: %v", ref, err))
		}
	}
}
